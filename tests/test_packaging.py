"""The installed package: every subpackage is in the wheel, and a wheel installed elsewhere
finds the shipped models (package data ``tinct/checkpoints``) without a source checkout."""

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_for_the_wheel():
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    source = ROOT / "src"
    packages = {".".join(p.parent.relative_to(source).parts) for p in source.rglob("__init__.py")}
    assert packages | {"tinct.checkpoints"} == set(settings["packages"])
    assert settings["package-dir"]["tinct.checkpoints"] == "checkpoints"


def test_a_wheel_installed_elsewhere_finds_the_shipped_models(tmp_path):
    wheels, target, outside = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    outside.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("tinct-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    script = (
        "import tinct, sys\n"
        f"assert tinct.__file__.startswith({str(target)!r}), tinct.__file__\n"
        "from tinct import Colorizer\n"
        "from tinct.methods import shipped_models\n"
        f"result = Colorizer.from_pretrained('guiding_painter').colorize({str(ROOT / 'examples' / 'sunflower_sketch.png')!r})\n"
        "print(result.image.shape, ','.join(shipped_models()))\n"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", script], cwd=outside, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "torch.Size([3, 512, 512])" in run.stdout
    shipped = sorted(folder.name for folder in (ROOT / "checkpoints").iterdir() if (folder / "config.json").exists())
    assert run.stdout.split()[-1] == ",".join(shipped)  # every shipped model travels in the wheel
