import importlib

import clm_lib


def test_every_public_name_resolves():
    for name in clm_lib.__all__:
        assert getattr(clm_lib, name) is not None, name


def test_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no_such_thing"):
        clm_lib.no_such_thing  # noqa: B018


def test_clv_package_exports_models():
    clv = importlib.import_module("clm_lib.clv")
    for name in clv.__all__:
        assert issubclass(getattr(clv, name), clv.MLEModel)
