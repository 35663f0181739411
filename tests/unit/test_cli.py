"""The ``legato`` command, called in-process through ``main(argv)``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from legato.cli import main
from legato.cli.run import trace_lines
from legato.cli.serve import is_loopback

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "examples" / "hello"

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"got.$": "$.x"}, "End": True}}}
FAIL = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}}


@pytest.fixture
def pass_file(tmp_path: Path) -> Path:
    p = tmp_path / "pass.asl.json"
    p.write_text(json.dumps(PASS))
    return p


def test_run_prints_output(pass_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(pass_file), "--input", '{"x": 5}']) == 0
    assert json.loads(capsys.readouterr().out) == {"got": 5}


def test_run_input_from_file(pass_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.json").write_text('{"x": [1]}')
    assert main(["run", str(pass_file), "--input", f"@{tmp_path / 'in.json'}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "status": "SUCCEEDED",
        "output": {"got": [1]},
        "error": None,
        "cause": None,
    }


def test_run_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "fail.json"
    f.write_text(json.dumps(FAIL))
    assert main(["run", str(f)]) == 1
    err = capsys.readouterr().err
    assert "FAILED: Boom" in err and "cause: it broke" in err
    assert main(["run", str(f), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out == {"status": "FAILED", "output": None, "error": "Boom", "cause": "it broke"}


def test_run_yaml_and_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "wf.yaml"
    f.write_text(
        "StartAt: A\nStates:\n  A:\n    Type: Wait\n    Seconds: 600\n    Next: B\n  B:\n    Type: Succeed\n"
    )
    assert main(["run", str(f), "--trace"]) == 0  # the virtual clock skips the 10 minutes
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {}
    assert "> A (Wait)" in captured.err and "< A" in captured.err and "> B (Succeed)" in captured.err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "/nonexistent/x.json"], "definition file not found"),
        (["run", "{pass}", "--input", "{bad"], "not valid JSON"),
        (["run", "{pass}", "--input", "@/nonexistent/in.json"], "input file not found"),
        (["run", "{bad}"], "Invalid State Machine Definition"),
        (["run", "{pass}", "--functions", "/nonexistent/f.py"], "functions file not found"),
        (["run", "{pass}", "--clock", "sundial"], "invalid choice"),
        (["serve", "--host", "0.0.0.0"], "needs credentials"),
        (["validate", "/nonexistent/x.json"], "not found"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: list[str], needle: str, pass_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"StartAt": "Nowhere", "States": {}}')
    argv = [a.replace("{pass}", str(pass_file)).replace("{bad}", str(bad)) for a in argv]
    with pytest.raises(SystemExit) if argv[0] in ("frobnicate",) or "--clock" in argv else _nothing():
        code = main(argv)
        assert code == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_validate(tmp_path: Path, pass_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(pass_file)]) == 0
    assert capsys.readouterr().out == ""
    bad = tmp_path / "bad.yaml"
    bad.write_text("StartAt: A\nStates:\n  A:\n    Type: Pass\n    Next: Missing\n")
    assert main(["validate", str(pass_file), str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{bad}:/States/A/Next: MISSING_TRANSITION_TARGET: Missing 'Next' target: Missing"
    assert all(line.startswith(f"{bad}:/") for line in lines)


def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"greeting": "Hello, Legato!", "squares": [1, 4, 9], "verdict": "many items"}


def test_run_hello_example(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", str(HELLO / "hello.asl.json"), "--functions", str(HELLO / "functions.py")]
    assert main([*argv, "--input", '{"name": "you", "items": [4]}']) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "few items"


def test_trace_lines() -> None:
    history = [
        {"timestamp": 10.0, "type": "ExecutionStarted", "id": 1},
        {"timestamp": 10.0, "type": "PassStateEntered", "id": 2, "stateEnteredEventDetails": {"name": "P"}},
        {"timestamp": 10.5, "type": "PassStateExited", "id": 3, "stateExitedEventDetails": {"name": "P"}},
        {"timestamp": 10.5, "type": "ExecutionSucceeded", "id": 4},
    ]
    assert trace_lines(history) == [
        "    0.000s  > P (Pass)",
        "    0.500s  < P  500.0 ms",
        "    0.500s  ExecutionSucceeded",
    ]


def test_loopback() -> None:
    assert (
        is_loopback("127.0.0.1")
        and is_loopback("::1")
        and is_loopback("localhost")
        and is_loopback("127.0.0.2")
    )
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com") and not is_loopback("10.0.0.1")


def test_console_script_runs_as_subprocess(pass_file: Path) -> None:
    code = "import sys; from legato.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", code, "run", str(pass_file), "--input", '{"x": true}'],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"got": True}
