"""Batch runner: study discovery, parameter rules, HTML reports and end-to-end runs.

The end-to-end runs use the tiny fixture notebooks in tests/fixtures/notebooks:
``ok`` (writes metrics and an export), ``failing`` (raises in cell 3) and ``slow``
(sleeps 60 s; stopped by a 5 s time limit).
"""
from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from clm_lib.run import html as report_html
from clm_lib.run.index_page import index_html
from clm_lib.cli import cli
from clm_lib.exceptions import ParameterError, StudyNotFoundError
from clm_lib.run.execute import run_studies
from clm_lib.run.parameters import (
    RawValue,
    coerce_value,
    parse_assignment,
    resolve_parameters,
)
from clm_lib.run.discovery import get_study, list_studies

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"
SCRIPT = "<script>alert(1)</script>"
# An element that loads something from the network: src=/href= with an http(s) URL.
EXTERNAL_LOAD = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


# --------------------------------------------------------------------------- discovery

def test_studies_are_discovered_in_number_order_with_titles_and_defaults():
    studies = list_studies(FIXTURES)
    assert [s.name for s in studies] == ["ok", "failing", "slow"]
    ok = studies[0]
    assert ok.title == "OK study & <friends>"
    assert ok.path == (FIXTURES / "10_ok.ipynb").resolve()
    params = ok.parameters
    assert list(params) == ["code", "n", "ratio", "transactions", "segment", "output_dir"]
    assert params["code"].default == "abc" and params["code"].is_string
    assert params["code"].help == "a text parameter"
    assert params["n"].default == 2 and params["n"].type_name == "int"
    assert params["segment"].default is None and not params["segment"].is_string


def test_unknown_study_lists_the_valid_names(tmp_path):
    with pytest.raises(StudyNotFoundError, match="ok, failing, slow"):
        get_study("nope", FIXTURES)
    assert list_studies(tmp_path) == []


# --------------------------------------------------------------------------- parameters

def test_values_keep_the_type_of_the_notebook_default():
    ok = get_study("ok", FIXTURES)
    assert coerce_value(ok, "code", RawValue("00123")) == "00123"   # str default: raw text
    assert coerce_value(ok, "code", RawValue("null")) is None     # str default switched off
    assert coerce_value(ok, "code", RawValue("true")) == "true"
    assert coerce_value(ok, "n", RawValue("00123")) == 123          # decimal, not YAML octal
    assert coerce_value(ok, "n", RawValue("-4")) == -4
    assert coerce_value(ok, "ratio", RawValue("1e-3")) == pytest.approx(0.001)
    # None default of a text-valued shared name: stays text, dates are not parsed
    assert coerce_value(ok, "segment", RawValue("1998-06-30")) == "1998-06-30"
    assert coerce_value(ok, "segment", RawValue("null")) is None
    # typed API values pass unchanged
    assert coerce_value(ok, "code", 5) == 5


def test_parse_assignment():
    assert parse_assignment("a=b=c") == ("a", "b=c")
    assert parse_assignment("a=") == ("a", "")
    with pytest.raises(ParameterError):
        parse_assignment("novalue")


def _resolve(names=None, **kw):
    studies = list_studies(FIXTURES)
    selected = [s for s in studies if names is None or s.name in names]
    return resolve_parameters(selected, all_studies=studies, run_all=names is None, **kw)


def test_shared_parameter_applies_only_where_it_exists_when_running_all():
    out = _resolve(parameters=[("n", RawValue("5")), ("seconds", RawValue("2"))])
    assert out == {"ok": {"n": 5}, "failing": {"n": 5}, "slow": {"seconds": 2}}


def test_unknown_parameters_are_all_reported_before_anything_runs(tmp_path):
    with pytest.raises(ParameterError, match="'bogus'"):
        _resolve(parameters=[("bogus", RawValue("1"))])
    # named studies: every named study must have it
    with pytest.raises(ParameterError) as err:
        _resolve(["ok", "slow"], parameters=[("n", RawValue("1")), ("code", RawValue("x"))])
    msg = str(err.value)
    assert "'n' for study slow" in msg and "'code' for study slow" in msg
    with pytest.raises(ParameterError, match="set by the runner"):
        _resolve(parameters=[("output_dir", RawValue("/tmp"))])
    with pytest.raises(StudyNotFoundError):
        _resolve(parameters=[("nosuch.n", RawValue("1"))])
    # and run_studies fails before writing anything
    out = tmp_path / "out"
    with pytest.raises(ParameterError):
        run_studies(["ok"], out_dir=out, parameters=[("bogus", RawValue("1"))],
                    notebooks_dir=FIXTURES, progress=False)
    assert not out.exists()


def test_study_prefixed_parameter_and_priority_over_config(tmp_path, monkeypatch):
    cfg = tmp_path / "cfg" / "run.yml"
    cfg.parent.mkdir()
    cfg.write_text("code: 00123\nsegment: 1998-06-30\ntransactions: data/tx.csv\n"
                   "n: 3\nfailing:\n  n: 9\n")
    # input files must exist before a run starts
    (cfg.parent / "data").mkdir()
    (cfg.parent / "data" / "tx.csv").write_text("x\n")
    (tmp_path / "x.csv").write_text("x\n")
    monkeypatch.chdir(tmp_path)
    out = _resolve(config=cfg)
    assert out["ok"]["code"] == "00123"                  # unquoted in YAML, still text
    assert out["ok"]["segment"] == "1998-06-30"          # not a datetime.date
    assert out["ok"]["transactions"] == str((cfg.parent / "data" / "tx.csv").resolve())
    assert out["ok"]["n"] == 3 and out["failing"]["n"] == 9
    out = _resolve(config=cfg, parameters=[("failing.n", RawValue("11")),
                                           ("transactions", RawValue("x.csv"))])
    assert out["failing"]["n"] == 11 and out["ok"]["n"] == 3
    assert out["ok"]["transactions"] == str((tmp_path / "x.csv").resolve())  # caller's cwd


def test_config_parameter_unknown_to_every_study_is_an_error(tmp_path):
    cfg = tmp_path / "c.yml"
    cfg.write_text("typo_param: 1\n")
    with pytest.raises(ParameterError, match="typo_param"):
        _resolve(["ok"], config=cfg)
    cfg.write_text("ok:\n  seconds: 1\n")
    with pytest.raises(ParameterError, match="'seconds' for study ok"):
        _resolve(config=cfg)


# --------------------------------------------------------------------------- HTML

def _executed_like_notebook():
    nb = new_notebook()
    params = new_code_cell("x = 1")
    params.metadata["tags"] = ["injected-parameters"]
    hidden = new_code_cell("secret_code()", outputs=[
        new_output("stream", name="stdout", text="hidden output\n")])
    hidden.metadata["tags"] = ["remove"]
    body = new_code_cell("secret_source = 1", outputs=[
        new_output("stream", name="stderr", text="a noisy warning\n"),
        new_output("stream", name="stdout", text="kept text\n"),
        new_output("display_data", data={"text/html": "<p>kept html</p>",
                                         "text/plain": "x"}),
        new_output("error", ename="ValueError", evalue="bad", traceback=["Traceback line"]),
    ])
    echo = new_code_cell("save_export(df, 'x', output_dir)", outputs=[
        new_output("execute_result", data={"text/plain": "PosixPath('/very/secret/x.csv')"},
                   execution_count=3)])
    nb.cells = [new_markdown_cell("# Title"), params, hidden, body, echo]
    return nb


def test_report_page_drops_code_tracebacks_stderr_and_hidden_cells():
    page = report_html.report_page(
        _executed_like_notebook(), title="T <1>", study="s", run_date="2026-01-31T09:05:00Z",
        parameters={"transactions": "/very/secret/dir/tx.csv", "segment": SCRIPT,
                    "output_dir": "/out/dir"})
    assert "kept text" in page and "<p>kept html</p>" in page
    for absent in ("secret_source", "secret_code", "hidden output", "noisy warning",
                   "Traceback", "ValueError", "x = 1", "/very/secret", "/out/dir", SCRIPT,
                   "PosixPath"):
        assert absent not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "tx.csv" in page and "2026-01-31 09:05 UTC" in page
    assert "<title>T &lt;1&gt;</title>" in page
    assert not EXTERNAL_LOAD.search(page)


def test_index_escapes_headline_and_errors():
    run = {"started": "2026-01-31T09:05:00Z", "finished": "2026-01-31T09:06:00Z",
           "parameters": {"segment": SCRIPT},
           "studies": {"a": {"status": "ok", "duration_s": 1.0},
                       "b": {"status": "failed", "duration_s": 2.0,
                             "error": {"cell": 3, "ename": "ValueError", "evalue": "<b>x</b>"}}}}
    page = index_html(run, {"a": {"headline": {"<k>": "<v>"}}}, {"a": "A", "b": "B"})
    assert SCRIPT not in page and "&lt;script&gt;" in page
    assert "&lt;k&gt;" in page and "&lt;v&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "href='a/report.html'" in page and "href='b/notebook.ipynb'" in page
    assert "b/report.html" not in page
    assert "1 of 2 studies succeeded" in page


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    path = report_html.atomic_write_text(tmp_path / "r.html", "x")
    assert path.read_text() == "x" and os.listdir(tmp_path) == ["r.html"]
    assert (path.stat().st_mode & 0o044) == 0o044  # readable by others (not mkstemp's 0600)


# --------------------------------------------------------------------------- end to end

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """All fixture studies, run once through the CLI with a 5 s limit per study."""
    base = tmp_path_factory.mktemp("run")
    out = base / "out"
    (base / "rel").mkdir()
    (base / "rel" / "tx.csv").write_text("x\n")  # input files must exist before a run
    cwd = os.getcwd()
    os.chdir(base)
    try:
        result = CliRunner().invoke(cli, [
            "run", "--out", str(out), "--timeout", "5", "--jobs", "2",
            "--notebooks-dir", str(FIXTURES),
            "-p", "code=00123", "-p", "n=7", "-p", f"segment={SCRIPT}",
            "-p", "transactions=rel/tx.csv",
        ])
    finally:
        os.chdir(cwd)
    return base, out, result


@pytest.mark.slow
def test_run_writes_every_file_and_exits_non_zero(cli_run):
    base, out, result = cli_run
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == str(out.resolve() / "index.html")
    assert (out / "ok" / "report.html").is_file()
    assert (out / "ok" / "notebook.ipynb").is_file()
    assert (out / "ok" / "exports" / "table.csv").is_file()
    assert (out / "index.html").is_file()
    assert not [p for p in out.rglob("*.tmp")]
    run = json.loads((out / "run.json").read_text())
    assert list(run["studies"]) == ["ok", "failing", "slow"]
    assert run["ok"] is False and run["started"] <= run["finished"]
    assert run["studies"]["ok"]["status"] == "ok"
    assert run["studies"]["ok"]["duration_s"] > 0
    # progress lines on the terminal, one per finished study
    for name, status in (("ok", "ok"), ("failing", "failed"), ("slow", "timeout")):
        assert re.search(rf"^\[[123]/3\] {name} {status} \d+\.\d s", result.output, re.M)
    # two studies at a time: some study started before another one had finished
    spans = sorted(
        (datetime.fromisoformat(i["started"].replace("Z", "+00:00")).timestamp(), i["duration_s"])
        for i in run["studies"].values()
    )
    assert any(later[0] < first[0] + first[1] for first, later in zip(spans, spans[1:]))


@pytest.mark.slow
def test_values_keep_their_types_and_paths_are_resolved(cli_run):
    base, out, _ = cli_run
    metrics = json.loads((out / "ok" / "metrics.json").read_text())
    assert metrics["values"]["code"] == "00123"
    assert metrics["types"] == {"code": "str", "n": "int", "ratio": "float"}
    assert metrics["values"]["n"] == 7
    assert metrics["values"]["segment"] == SCRIPT
    assert metrics["values"]["transactions"] == str((base / "rel" / "tx.csv").resolve())


@pytest.mark.slow
def test_failing_notebook_is_kept_and_named(cli_run):
    _, out, _ = cli_run
    info = json.loads((out / "run.json").read_text())["studies"]["failing"]
    assert info["status"] == "failed"
    assert info["error"]["cell"] == 3
    assert info["error"]["ename"] == "ValueError"
    assert info["error"]["evalue"] == "boom <b>bad</b>"  # first line only
    assert (out / "failing" / "notebook.ipynb").is_file()
    assert not (out / "failing" / "report.html").exists()
    nb = nbformat.read(out / "failing" / "notebook.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_time_limit_stops_the_kernel(cli_run):
    _, out, _ = cli_run
    info = json.loads((out / "run.json").read_text())["studies"]["slow"]
    assert info["status"] == "timeout"
    assert info["error"]["cell"] == 2
    assert 4 <= info["duration_s"] < 5 + 4
    pid = int((out / "slow" / "kernel.pid").read_text())
    assert not _pid_alive(pid)
    assert not (out / "slow" / "report.html").exists()


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="Unix sockets are a POSIX transport")
def test_a_study_runs_when_every_free_tcp_port_is_taken_before_its_kernel_binds(
        tmp_path, monkeypatch):
    """The race of parallel runs, made certain: every port the kernel manager would hand
    out over TCP is held by another socket. Over Unix sockets the kernel never needs one."""
    import socket

    from jupyter_client.connect import LocalPortCache

    held = []

    def taken_port(self, ip):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        held.append(s)
        return s.getsockname()[1]

    monkeypatch.setattr(LocalPortCache, "find_available_port", taken_port)
    try:
        result = run_studies(["ok"], out_dir=tmp_path / "out", notebooks_dir=FIXTURES,
                             timeout=60, progress=False, history="off")
    finally:
        for s in held:
            s.close()
    assert result.studies["ok"].status == "ok", result.studies["ok"].error
    assert not held  # no TCP port was asked for
    metrics = json.loads((tmp_path / "out" / "ok" / "metrics.json").read_text())
    assert metrics["values"]["code"] == "abc"


@pytest.mark.slow
def test_report_is_self_contained_and_escaped(cli_run):
    _, out, _ = cli_run
    page = (out / "ok" / "report.html").read_text()
    assert "<title>OK study &amp; &lt;friends&gt;</title>" in page
    assert "data:image/png;base64," in page
    assert "visible stdout" in page
    for absent in ("noise on stderr", "save_metrics", "import ", SCRIPT, "Traceback",
                   str(out), "rel/tx.csv", "PosixPath"):
        assert absent not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page  # table values escaped
    assert not EXTERNAL_LOAD.search(page)
    # no URL outside the inlined libraries' own code (their comments and SVG namespaces)
    text = re.sub(r"<script>.*?</script>", "", page, flags=re.S)
    assert "http://" not in text and "https://" not in text


@pytest.mark.slow
def test_index_links_studies_with_status_and_headline(cli_run):
    _, out, _ = cli_run
    page = (out / "index.html").read_text()
    assert "href='ok/report.html'" in page
    assert "href='failing/notebook.ipynb'" in page and "href='slow/notebook.ipynb'" in page
    assert "status-failed" in page and "status-timeout" in page
    assert "<dd>00123</dd>" in page and "N &lt;n&gt;" in page
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "cell 3 · ValueError: boom &lt;b&gt;bad&lt;/b&gt;" in page
    assert not EXTERNAL_LOAD.search(page)


@pytest.mark.slow
def test_default_output_folder_and_latest_link(tmp_path):
    reports = tmp_path / "reports"
    result = run_studies(["failing"], notebooks_dir=FIXTURES, reports_dir=reports,
                         progress=False, timeout=60)
    assert not result.ok and result.failed == ["failing"]
    assert result.out_dir.parent == reports.resolve()
    assert re.fullmatch(r"\d{8}-\d{6}(-\d+)?", result.out_dir.name)
    latest = reports / "latest"
    assert latest.is_symlink() and not os.path.isabs(os.readlink(latest))
    assert latest.resolve() == result.out_dir
    assert (latest / "run.json").is_file() and (latest / "index.html").is_file()


# --------------------------------------------------------------------------- config files

def _configs(tmp_path, **texts):
    paths = []
    for name, text in texts.items():
        path = tmp_path / f"{name}.yml"
        path.write_text(text)
        paths.append(path)
    return paths


@pytest.fixture
def no_kernel(monkeypatch):
    """The studies the executor was asked to run (none is run)."""
    import clm_lib.run.execute as execute

    started = []

    def fake(study, values, study_dir, timeout, run_started, env=None, history=None):
        started.append((study.name, dict(values)))
        return execute.StudyResult(name=study.name, title=study.title, status="ok",
                                   parameters=dict(values), output_dir=study_dir)

    monkeypatch.setattr(execute, "_execute", fake)
    return started


def test_a_config_with_studies_applies_to_those_studies_only(tmp_path):
    from clm_lib.run.parameters import config_studies, load_configs

    a, b = _configs(tmp_path, a="studies: [ok]\nn: 3\ncode: x\n",
                    b="studies: [failing]\nn: 9\n")
    studies = list_studies(FIXTURES)
    assert config_studies(load_configs([a, b], studies), studies) == ["ok", "failing"]
    assert config_studies(load_configs([b, a], studies), studies) == ["ok", "failing"]
    out = _resolve(config=[a, b])
    assert out == {"ok": {"n": 3, "code": "x"}, "failing": {"n": 9}, "slow": {}}
    # a config without 'studies' is for every study: the run is then for all of them
    c, = _configs(tmp_path, c="n: 5\n")
    assert config_studies(load_configs([a, c], studies), studies) is None
    assert config_studies([], studies) is None


def test_later_config_files_override_earlier_ones_and_p_overrides_all(tmp_path):
    a, b = _configs(tmp_path, a="n: 3\nok:\n  n: 4\n  code: first\n", b="n: 5\n")
    out = _resolve(config=[a, b])
    assert out["ok"] == {"n": 5, "code": "first"} and out["failing"] == {"n": 5}
    out = _resolve(config=[b, a])
    assert out["ok"] == {"n": 4, "code": "first"} and out["failing"] == {"n": 3}
    out = _resolve(config=[a, b], parameters=[("n", RawValue("7"))])
    assert out["ok"]["n"] == 7 and out["failing"]["n"] == 7


def test_a_study_no_config_is_for_is_an_error(tmp_path):
    a, b = _configs(tmp_path, a="studies: [ok]\nn: 3\n", b="studies: [failing]\n")
    with pytest.raises(ParameterError) as err:
        _resolve(["ok", "slow"], config=[a, b])
    assert str(err.value) == (f"no config file is for slow ({a} is for ok; {b} is for "
                              f"failing)")
    # with a config for every study, any study may be named
    c, = _configs(tmp_path, c="seconds: 1\n")
    assert _resolve(["slow"], config=[a, c]) == {"slow": {"seconds": 1}}


def test_config_values_must_belong_to_the_studies_it_is_for(tmp_path):
    a, = _configs(tmp_path, a="studies: [slow]\nn: 1\n")   # n is ok's, not slow's
    with pytest.raises(ParameterError, match=r"config entry 'n' of .*a\.yml is a parameter "
                                             r"of none of the studies it is for \(slow\)"):
        _resolve(config=[a])
    b, = _configs(tmp_path, b="studies: [ok]\nfailing:\n  n: 2\n")
    with pytest.raises(ParameterError, match=r"b\.yml has a section for failing but is for "
                                             r"ok only"):
        _resolve(config=[b])
    c, = _configs(tmp_path, c="studies: [ok, nosuch]\n")
    with pytest.raises(ParameterError, match="'studies' names unknown study nosuch"):
        _resolve(config=[c])
    d, = _configs(tmp_path, d="studies: {ok: 1}\n")
    with pytest.raises(ParameterError, match="'studies' must be a list of study names"):
        _resolve(config=[d])


def test_run_without_study_names_runs_the_configs_studies(tmp_path, no_kernel):
    a, b = _configs(tmp_path, a="studies: [slow]\nseconds: 2\n",
                    b="studies: [ok]\nn: 4\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "--config", str(a), "--config", str(b),
                                      "--out", str(out), "--notebooks-dir", str(FIXTURES),
                                      "-q"])
    assert result.exit_code == 0, result.output
    assert sorted(no_kernel) == [("ok", {"n": 4}), ("slow", {"seconds": 2})]
    run = json.loads((out / "run.json").read_text())
    assert list(run["studies"]) == ["ok", "slow"]
    assert run["parameters"]["--config"] == [str(a.resolve()), str(b.resolve())]
    # a study named on the command line that neither config is for
    result = CliRunner().invoke(cli, ["run", "failing", "--config", str(a), "--config",
                                      str(b), "--out", str(tmp_path / "o2"),
                                      "--notebooks-dir", str(FIXTURES)])
    assert result.exit_code == 2
    assert "ParameterError: no config file is for failing" in result.output
    assert not (tmp_path / "o2").exists()


@pytest.mark.slow
def test_values_of_several_configs_reach_the_notebook(tmp_path):
    a, b = _configs(tmp_path, a="studies: [ok]\nn: 3\ncode: '007'\n",
                    b="studies: [ok, slow]\nok:\n  n: 8\n")
    result = run_studies(out_dir=tmp_path / "out", config=[a, b], notebooks_dir=FIXTURES,
                         progress=False, timeout=60, names=["ok"])
    assert result.ok
    metrics = json.loads((tmp_path / "out" / "ok" / "metrics.json").read_text())
    assert metrics["values"]["n"] == 8 and metrics["values"]["code"] == "007"


# --------------------------------------------------------------------------- output folder

def test_an_output_folder_that_cannot_be_written_is_refused_before_running(
        tmp_path, no_kernel, monkeypatch):
    import errno

    import clm_lib.run.execute as execute

    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out, reason in ((a_file / "sub", "a part of the path is a file, not a folder"),
                        (a_file, "it is a file, not a folder")):
        with pytest.raises(ParameterError) as err:
            run_studies(["failing"], out_dir=out, notebooks_dir=FIXTURES, progress=False)
        assert str(err.value) == f"cannot write the output folder {out}: {reason}"
    # the default reports/ folder too
    with pytest.raises(ParameterError, match="cannot write the output folder .*file/reports"):
        run_studies(["failing"], reports_dir=a_file / "reports", notebooks_dir=FIXTURES,
                    progress=False)

    # a folder that exists but cannot be written (as root, permissions do not stop a
    # write: the refusal of the file system is simulated)
    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(execute.tempfile, "mkstemp", refuse)
    with pytest.raises(ParameterError, match="cannot write the output folder .*ro: the "
                                             "file system is read-only"):
        run_studies(["failing"], out_dir=tmp_path / "ro", notebooks_dir=FIXTURES,
                    progress=False)
    assert no_kernel == []
    assert not (tmp_path / "ro" / "run.json").exists()
