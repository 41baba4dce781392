"""The package as a user meets it: a ROS-free core, an idempotent set-up, the CLI, setup.py."""
from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import dance_recognition

REPO = Path(__file__).resolve().parents[1]


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(dance_recognition.__path__, "dance_recognition."):
        if not info.name.startswith(("dance_recognition.ros", "dance_recognition.msg")):
            names.append(info.name)
    return sorted(set(names))


def test_core_never_imports_rclpy() -> None:
    """Layouts, models, datasets, training and pose backends must work without ROS."""
    modules = core_modules()
    assert "dance_recognition.skeleton.pose" in modules
    code = (
        "import importlib, sys\n"
        "for m in sys.argv[1:]: importlib.import_module(m)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('rclpy', 'rosidl_parser')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *modules], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "[]", result.stdout


def test_doctor_checks_the_installation_end_to_end() -> None:
    result = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "doctor"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Skeleton message loopback through DDS" in result.stdout and "everything works" in result.stdout
    assert "MediaPipe pose on a sample photo" in result.stdout


def test_installed_command_and_node_layout() -> None:
    """scripts/setup.sh installs the CLI on the venv's PATH and the package index entry ros2 uses."""
    prefix = Path(sys.prefix)
    if not (prefix / "share" / "ament_index" / "resource_index" / "packages" / "dance_recognition").exists():
        pytest.skip(f"dance_recognition is not installed into {prefix} (run scripts/setup.sh)")
    assert (prefix / "share" / "dance_recognition" / "package.xml").is_file()
    assert (prefix / "share" / "dance_recognition" / "config" / "fastdds_large_images.xml").is_file()
    result = subprocess.run([str(prefix / "bin" / "dance-recognition"), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "doctor" in result.stdout


@pytest.mark.slow
def test_second_setup_run_changes_nothing() -> None:
    venv = Path(sys.prefix)
    if venv != REPO / ".venv":
        pytest.skip("tests run outside the repository's .venv; the set-up under test manages only that one")
    result = subprocess.run(["bash", str(REPO / "scripts" / "setup.sh")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "pinned Python dependencies already installed" in result.stdout
    assert "patched: 0 file(s)" in result.stdout
    assert "self-check passed" in result.stdout


@pytest.mark.slow
def test_setup_py_builds_the_core_wheel(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO),
                    "-w", str(tmp_path)], check=True, capture_output=True, timeout=300, cwd=tmp_path)
    (wheel,) = tmp_path.glob("dance_recognition-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dance_recognition/skeleton/pose.py" in names
    assert "dance_recognition/resources/demo_moves.pt" in names
    assert any(name.endswith("share/dance_recognition/config/fastdds_large_images.xml") for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "dance-recognition = dance_recognition.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_setup_fetched_the_demo_video_of_the_main_job() -> None:
    """`dance-recognition live` without arguments plays it when there is no webcam."""
    from dance_recognition.media.video import VideoReader
    from dance_recognition.ros.graph import media_file

    demo = media_file("demo.mp4")
    assert demo is not None, "scripts/setup.sh should have put share/dance_recognition/media/demo.mp4 in the venv"
    with VideoReader(demo) as reader:
        assert reader.declared_frames > 100 and reader.declared_size[0] > 0


@pytest.mark.slow
def test_colcon_test_runs_the_pytest_suite(tmp_path: Path) -> None:
    """What `colcon test` does: a BUILD_TESTING=ON build whose ctest runs this suite with pytest
    (here narrowed to one test through PYTEST_ADDOPTS, which ament's runner passes on)."""
    prefix = Path(sys.prefix)
    if not (prefix / "share" / "ament_cmake_pytest").is_dir():
        pytest.skip(f"ament_cmake_pytest is not installed in {prefix} (scripts/setup.sh installs it)")
    env = {**os.environ, "AMENT_PREFIX_PATH": str(prefix), "CMAKE_PREFIX_PATH": str(prefix),
           "PYTEST_ADDOPTS": "-k test_core_never_imports_rclpy -p no:cacheprovider"}
    build = tmp_path / "build"
    configure = subprocess.run(["cmake", "-S", str(REPO), "-B", str(build), "-DBUILD_TESTING=ON",
                                f"-DPython3_EXECUTABLE={sys.executable}", f"-DCMAKE_INSTALL_PREFIX={prefix}"],
                               capture_output=True, text=True, env=env, timeout=600)
    assert configure.returncode == 0, configure.stdout[-3000:] + configure.stderr[-3000:]
    result = subprocess.run(["ctest", "-R", "pytest", "--output-on-failure"], cwd=build, capture_output=True,
                            text=True, env=env, timeout=600)
    assert result.returncode == 0 and "Test #1: pytest" in result.stdout, result.stdout[-3000:]
    report = (build / "test_results" / "dance_recognition" / "pytest.xunit.xml").read_text()
    assert 'tests="1"' in report and 'failures="0"' in report and 'errors="0"' in report


# Import name -> rosdep key (ros/rosdistro rosdep/{base,python}.yaml, or a ROS package); None: no key
# exists, installed as the README says.
ROSDEP_KEYS = {
    "rclpy": "rclpy", "rcl_interfaces": "rcl_interfaces", "ament_index_python": "ament_index_python",
    "std_msgs": "std_msgs", "builtin_interfaces": "builtin_interfaces", "sensor_msgs": "sensor_msgs",
    "geometry_msgs": "geometry_msgs", "visualization_msgs": "visualization_msgs",
    "diagnostic_msgs": "diagnostic_msgs", "rosgraph_msgs": "rosgraph_msgs",
    "cv_bridge": "cv_bridge", "launch": "launch", "launch_ros": "launch_ros",
    "numpy": "python3-numpy", "cv2": "python3-opencv", "yaml": "python3-yaml", "tqdm": "python3-tqdm",
    "matplotlib": "python3-matplotlib", "scipy": "python3-scipy", "torch": "python3-torch",
    "mediapipe": "python3-mediapipe-pip", "rosbags": "python3-rosbags-pip",
    "onnxruntime": "python3-onnxruntime-pip", "mcap": "mcap-ros2-support", "onnx": None,
}


def test_package_xml_declares_every_import() -> None:
    """rosdep installs only what package.xml names: every module the package imports must be there."""
    import ast
    import xml.etree.ElementTree as ElementTree

    declared = {element.text for element in ElementTree.parse(REPO / "package.xml").getroot()
                if element.tag.endswith("depend")}
    imported = set()
    for path in [*(REPO / "dance_recognition").rglob("*.py"), *(REPO / "launch").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"dance_recognition", "__future__"}
    unknown = third_party - ROSDEP_KEYS.keys()
    assert not unknown, f"imported but without a rosdep key in this test's table: {sorted(unknown)}"
    missing = {ROSDEP_KEYS[name] for name in third_party if ROSDEP_KEYS[name]} - declared
    assert not missing, f"package.xml does not declare {sorted(missing)}"
