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
    assert "No such file or directory" in result.output


def test_yaml_11_booleans_are_errors_with_their_key_path(tmp_path):
    """`gate_humans: yes` was reported valid (YAML 1.1 reads it as true)."""
    path, result = run(
        tmp_path, "version: 1\nmerge:\n  gate_humans: yes\n  allow_contributors: off\n"
    )
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path}:3: merge.gate_humans: 'yes' is a YAML 1.1 boolean: write true or false "
        "(or quote it for text)"
    ]
    quoted = "version: 1\nagents:\n  labels: ['yes']\nmerge:\n  gate_humans: false\n"
    path, result = run(tmp_path, quoted)
    assert (result.exit_code, result.output) == (0, f"{path}: valid\n")


def test_a_syntax_error_names_its_column(tmp_path):
    path, result = run(tmp_path, "version: 1\nmerge: {rules: [}\n")
    assert result.exit_code == 1
    assert result.output.startswith(f"{path}:2: YAML syntax error:")
    assert "(column 17)" in result.output


def test_a_subject_glob_whose_star_stops_at_a_slash_is_warned(tmp_path):
    text = (
        "version: 1\n"
        "tokens:\n"
        "  - name: ci\n"
        "    issuer: https://token.actions.githubusercontent.com\n"
        '    subject: "repo:acme/agents:*"\n'
        "    claims: {job_workflow_ref: 'acme/agents/.github/workflows/agent.yml@**'}\n"
        "    permissions: {contents: write}\n"
    )
    path, result = run(tmp_path, text)
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"{path}: valid",
        f"{path}:5: tokens[0].subject: warning: '*' does not match '/', so "
        "'repo:acme/agents:*' matches no value with a '/' where the '*' is; write "
        "'repo:acme/agents:**' to match any",
    ]


def test_several_files_and_stdin(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text("version: 1\n")
    bad = tmp_path / "bad.yml"
    bad.write_text("version: 2\n")
    result = CliRunner().invoke(
        cli, ["policy", "check", str(good), "-", str(bad)], input="merge: {gate_humans: true}\n"
    )
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{good}: valid",
        "<stdin>: valid",
        f"{bad}:1: version: only version 1 is supported",
    ]
