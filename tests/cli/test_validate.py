import json
import subprocess
import sys

from click.testing import CliRunner

from brun_label.cli import cli

GOOD = {"id": "s1", "prompt": "Refund me now.", "candidates": [{"text": "a"}, {"text": "b"}]}


def test_valid_file_exits_0(tmp_path):
    p = tmp_path / "ok.jsonl"
    p.write_text(json.dumps(GOOD) + "\n")
    result = CliRunner().invoke(cli, ["validate", str(p)])
    assert result.exit_code == 0, result.output
    assert "1 valid sample(s), ok" in result.stdout


def test_problems_exit_2_one_line_each_on_stderr(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(GOOD) + "\n{\n" + json.dumps({**GOOD, "id": "s2", "candidates": []}) + "\n")
    result = CliRunner().invoke(cli, ["validate", str(p)])
    assert result.exit_code == 2
    errors = result.stderr.strip().splitlines()
    assert errors == [
        f"Error: {p}:2: (line): not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"Error: {p}:3: candidates: needs at least 2 candidates, got 0",
    ]
    assert "Traceback" not in result.output


def test_json_output_is_one_object(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text("{}\n")
    result = CliRunner().invoke(cli, ["validate", str(p), "--json"])
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert out["ok"] is False
    assert out["files"][0]["problems"][0] == {"path": str(p), "line": 1, "field": "prompt", "message": "is missing"}


def test_console_script_never_prints_a_traceback(tmp_path):
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(bytes(range(256)) * 40)
    proc = subprocess.run([sys.executable, "-m", "brun_label", "validate", str(garbage)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"Error: {garbage}: file is binary, not text (NUL bytes in the first 8 KiB)"


def test_usage_errors_exit_2():
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 2


def test_schema_is_valid_json_schema_and_accepts_a_sample():
    import jsonschema

    result = CliRunner().invoke(cli, ["schema"])
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(GOOD, schema)
    bad = {**GOOD, "candidates": [{"text": "a"}]}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
