"""The simulator's optional libraries: a missing one is named with how to install it."""

import subprocess
import sys

import pytest

from simulations.extras import MissingExtra, require


def test_an_installed_module_is_returned() -> None:
    assert require("json", "anything").dumps([1]) == "[1]"


def test_a_missing_module_names_the_feature_and_the_extra() -> None:
    with pytest.raises(MissingExtra) as caught:
        require("crowdship_not_installed_anywhere.graphs", "the HTML report")
    assert "the HTML report needs `crowdship_not_installed_anywhere.graphs`" in caught.value.message
    assert "crowdship[sim]" in caught.value.message


def _without(blocked: set[str], code: str) -> subprocess.CompletedProcess[str]:
    """`code` run in a fresh interpreter in which the top-level packages `blocked` cannot be imported."""
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {sorted(blocked)!r}:\n"
        "            raise ModuleNotFoundError(f'blocked: {name}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    return subprocess.run([sys.executable, "-c", blocker + code], capture_output=True, text=True, check=False)


def test_the_service_and_the_cli_import_without_the_sim_extra() -> None:
    """A deployed service installs no Ray, plotly or tqdm: nothing on its import path may need them."""
    answer = _without(
        {"ray", "plotly", "tqdm"}, "import api.app, cli.main, simulations.engine, simulations.run, simulations.sweep\n"
    )
    assert answer.returncode == 0, answer.stderr


def test_a_sweep_without_ray_says_which_extra_to_install() -> None:
    answer = _without(
        {"ray"},
        "from simulations.extras import MissingExtra\n"
        "from simulations.sweep import run_sweep\n"
        "try:\n"
        "    run_sweep(None)  # the grid is never read: ray is asked for first\n"
        "except MissingExtra as error:\n"
        "    print(error.message)\n",
    )
    assert answer.returncode == 0, answer.stderr
    assert "a sweep needs `ray`" in answer.stdout
