from clm_lib.cli import main

main()
