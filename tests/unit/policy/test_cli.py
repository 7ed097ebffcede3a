"""`foureyes policy check FILE`."""

from __future__ import annotations

from click.testing import CliRunner

from app.cli import cli


def run(tmp_path, text: str | bytes):
    path = tmp_path / "foureyes.yml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path), CliRunner().invoke(cli, ["policy", "check", str(path)])


def test_a_valid_file(tmp_path):
    path, result = run(tmp_path, "version: 1\nmerge:\n  gate_humans: true\n")
    assert result.exit_code == 0
    assert result.output == f"{path}: valid\n"


def test_each_error_is_printed_with_file_line_and_key_path(tmp_path):
    path, result = run(
        tmp_path,
        "merge:\n  rules:\n    - name: r\n      require:\n        aprovals: 2\nversion: 2\n",
    )
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path}:5: merge.rules[0].require.aprovals: unknown key",
        f"{path}:6: version: only version 1 is supported",
    ]


def test_a_yaml_syntax_error(tmp_path):
    path, result = run(tmp_path, "merge: [\n")
    assert result.exit_code == 1
    assert result.output.startswith(f"{path}:2: YAML syntax error")


def test_a_file_that_is_not_utf8(tmp_path):
    path, result = run(tmp_path, b"version: \xff\n")
    assert result.exit_code == 1
    assert result.output.startswith(f"{path}: the file is not UTF-8")


def test_a_missing_file(tmp_path):
    result = CliRunner().invoke(cli, ["policy", "check", str(tmp_path / "absent.yml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
