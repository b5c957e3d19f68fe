import json

import yaml
from click.testing import CliRunner
from label_studio_sdk.label_interface import LabelInterface

from brun_label import __version__
from brun_label.cli import cli


def test_version_and_help_with_examples():
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).output.strip() == f"brun-label, version {__version__}"
    for cmd in (["validate"], ["rubric"], ["rubric", "show"], ["schema"], ["serve"], ["push"], ["pull"]):
        result = runner.invoke(cli, [*cmd, "--help"])
        assert result.exit_code == 0, (cmd, result.output)
        assert "Example" in result.output, cmd


def test_list_and_show_every_format():
    runner = CliRunner()
    listing = json.loads(runner.invoke(cli, ["rubric", "list", "--json"]).stdout)
    assert [r["name"] for r in listing] == ["de-escalation", "deal-closer", "project-architect", "socratic-mentor"]
    y = yaml.safe_load(runner.invoke(cli, ["rubric", "show", "de-escalation"]).stdout)
    assert y["name"] == "de-escalation"
    xml = runner.invoke(cli, ["rubric", "show", "de-escalation", "--format", "label-studio", "--candidates", "3"]).stdout
    assert "tone_zone_c" in {c.name for c in LabelInterface(xml).controls}
    settings = json.loads(runner.invoke(cli, ["rubric", "show", "deal-closer", "--format", "argilla"]).stdout)
    assert "objection_type" in [q["name"] for q in settings["questions"]]


def test_unknown_rubric_is_a_one_line_usage_error():
    result = CliRunner().invoke(cli, ["rubric", "show", "nope"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --rubric: no rubric pack or file named 'nope'")
    assert len(result.stderr.strip().splitlines()) == 1
