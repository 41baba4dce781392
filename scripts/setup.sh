#!/usr/bin/env bash
# One idempotent set-up of dance_recognition on a machine WITHOUT a system ROS 2:
#   1. checks the system prerequisites (Python 3.11 with venv and headers, cmake, C/C++ compiler),
#   2. creates .venv and installs the pinned Python dependencies (ROS 2 Kilted wheels, torch CPU, ...)
#      only when scripts/requirements.txt changed since the last run,
#   3. patches the ROS wheels' CMake files that hard-code the wheel builder's paths,
#   4. builds the messages and installs the package into the venv itself (incremental),
#   5. checks that everything imports.
# Environment: DANCE_VENV (default: <repo>/.venv), DANCE_PYTHON (default: python3.11),
#   DANCE_TORCH_INDEX_URL (install torch==2.13.0 from this index, e.g. https://download.pytorch.org/whl/cpu
#   for the CPU build) or DANCE_TORCH_WHEEL (a torch 2.13.0 wheel file); default: whatever build of
#   torch==2.13.0 pip's own configuration serves.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DANCE_VENV:-$repo/.venv}"
build_dir="$repo/build/standalone"
python="${DANCE_PYTHON:-python3.11}"
started=$SECONDS

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. prerequisites -------------------------------------------------------------------
command -v "$python" >/dev/null 2>&1 ||
  die "$python not found. The ROS 2 wheels are built for CPython 3.11 only: install it (Debian/Ubuntu: sudo apt-get install python3.11 python3.11-venv python3.11-dev) or point DANCE_PYTHON at one."
[ "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "3.11" ] ||
  die "$python is not Python 3.11; the ROS 2 wheels need exactly 3.11. Set DANCE_PYTHON to a 3.11 interpreter."
"$python" -c 'import venv, ensurepip' 2>/dev/null ||
  die "Python's venv module is missing. Install it: sudo apt-get install python3.11-venv"
"$python" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
  die "Python headers (Python.h) are missing; the message build compiles a Python extension. Install them: sudo apt-get install python3.11-dev"
command -v cmake >/dev/null 2>&1 || die "cmake not found. Install it: sudo apt-get install cmake"
command -v cc >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1 ||
  die "A C and C++ compiler is needed to build the messages. Install them: sudo apt-get install build-essential"
command -v make >/dev/null 2>&1 || die "make not found. Install it: sudo apt-get install build-essential"

# --- 2. venv and pinned dependencies --------------------------------------------------------
torch_index="${DANCE_TORCH_INDEX_URL:-}"
torch_wheel="${DANCE_TORCH_WHEEL:-}"
[ -z "$torch_index" ] || [ -z "$torch_wheel" ] ||
  die "set DANCE_TORCH_INDEX_URL or DANCE_TORCH_WHEEL, not both"
[ -z "$torch_wheel" ] || [ -f "$torch_wheel" ] ||
  die "DANCE_TORCH_WHEEL $torch_wheel does not exist; give the path of a torch 2.13.0 wheel (.whl)"
if [ ! -x "$venv/bin/python" ]; then
  say "creating the virtual environment $venv"
  "$python" -m venv "$venv"
fi
vpython="$venv/bin/python"
req="$repo/scripts/requirements.txt"
stamp="$venv/.dance_recognition_requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -n "$torch_index$torch_wheel" ]; then  # another torch source is another installation
  want="$(printf '%s %s %s' "$want" "$torch_index" "$torch_wheel" | sha256sum | cut -d' ' -f1)"
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  say "installing pinned Python dependencies (first time: about a minute, 2.2 GB)"
  # The user's torch source first (then the requirement below is already satisfied).
  if [ -n "$torch_wheel" ]; then
    say "installing torch from $torch_wheel"
    "$vpython" -m pip install --quiet --disable-pip-version-check "$torch_wheel"
  elif [ -n "$torch_index" ]; then
    say "installing torch==2.13.0 from $torch_index"
    "$vpython" -m pip install --quiet --disable-pip-version-check --index-url "$torch_index" torch==2.13.0
  fi
  # --prefer-binary: wheels wherever they exist (empy, a pure-Python generator dependency, is
  # sdist-only). Which torch==2.13.0 build comes is pip's configuration's choice (see README).
  "$vpython" -m pip install --quiet --disable-pip-version-check --prefer-binary -r "$req"
  torch_version="$("$vpython" -c 'import torch; print(torch.__version__)')"
  case "$torch_version" in
    2.13.0*) ;;
    *) die "pip installed torch $torch_version instead of 2.13.0; remove $venv and check your pip configuration." ;;
  esac
  torch_build="$("$vpython" -c 'import torch; print("CUDA " + torch.version.cuda if torch.version.cuda else "CPU-only")')"
  say "torch $torch_version: $torch_build build (choose another with DANCE_TORCH_INDEX_URL or DANCE_TORCH_WHEEL)"
  echo "$want" > "$stamp"
else
  say "pinned Python dependencies already installed"
fi

# --- 3. patch the wheels' CMake exports ---------------------------------------------------
# The wheels' generator exports name the include paths of the machine that built them; point
# them at this interpreter's headers and numpy. Exact-string replacement: a re-run changes nothing.
"$vpython" - "$venv" <<'PY'
import glob, os, sys, sysconfig
import numpy
venv = sys.argv[1]
replacements = {
    "/opt/python/cp311-cp311/include/python3.11": sysconfig.get_paths()["include"],
    "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include": numpy.get_include(),
}
patched = 0
for path in glob.glob(os.path.join(venv, "share", "*", "cmake", "export_*__rosidl_generator_pyExport.cmake")):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = text
    for old, repl in replacements.items():
        new = new.replace(old, repl)
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
        patched += 1
print(f"[setup] ROS wheel CMake exports patched: {patched} file(s)")
PY

# --- 4. build messages and install the package into the venv ------------------------------
say "building messages and installing dance_recognition into $venv"
export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
mkdir -p "$build_dir"
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$venv" -DPython3_EXECUTABLE="$vpython" -DBUILD_TESTING=OFF \
    > "$build_dir.configure.log" 2>&1 || { cat "$build_dir.configure.log" >&2; die "CMake configure failed (log above)"; }
fi
cmake --build "$build_dir" -j "$(nproc)" > "$build_dir.build.log" 2>&1 ||
  { cat "$build_dir.build.log" >&2; die "message build failed (log above)"; }
cmake --install "$build_dir" > "$build_dir.install.log" 2>&1 ||
  { cat "$build_dir.install.log" >&2; die "install failed (log above)"; }
changed="$(grep -c '^-- Installing' "$build_dir.install.log" || true)"
say "installed ($changed file(s) changed)"

# --- 4b. demo video for the main job (no webcam here) ------------------------------------------
# A real video of a person, licensed BSD-3-Clause, from the sports2d wheel on the package index
# (downloaded without its dependencies; only the demo clip is kept).
demo_video="$venv/share/dance_recognition/media/demo.mp4"
if [ ! -s "$demo_video" ]; then
  say "fetching the demo video (sports2d 0.8.34, Sports2D/Demo/demo.mp4, BSD-3-Clause)"
  wheel_dir="$(mktemp -d)"
  "$vpython" -m pip download --quiet --no-deps --only-binary :all: sports2d==0.8.34 -d "$wheel_dir" 2>"$wheel_dir.log" ||
    { cat "$wheel_dir.log" >&2; false; } ||
    die "cannot download sports2d==0.8.34 from the package index (needed for the demo video)"
  mkdir -p "$(dirname "$demo_video")"
  "$vpython" - "$wheel_dir" "$demo_video" <<'PY' || die "the sports2d wheel holds no Sports2D/Demo/demo.mp4"
import pathlib, shutil, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("sports2d-*.whl"))
with zipfile.ZipFile(wheel) as archive, archive.open("Sports2D/Demo/demo.mp4") as source:
    with open(sys.argv[2] + ".part", "wb") as target:
        shutil.copyfileobj(source, target)
pathlib.Path(sys.argv[2] + ".part").rename(sys.argv[2])
PY
  rm -rf "$wheel_dir"
fi

# --- 4c. MediaPipe pose models ----------------------------------------------------------------
# The Tasks API reads a .task bundle that no package ships: build it from the wheel's own model
# files (cached under share/dance_recognition/mediapipe, rebuilt when the wheel changes). The lite
# and heavy landmark models are optional; with an npm client they come from @mediapipe/pose.
mp_models="$venv/share/dance_recognition/mediapipe/models"
if [ ! -s "$mp_models/pose_landmark_lite.tflite" ] || [ ! -s "$mp_models/pose_landmark_heavy.tflite" ]; then
  if command -v npm >/dev/null 2>&1; then
    say "fetching the optional MediaPipe lite/heavy pose models (npm @mediapipe/pose@0.5.1675469404, Apache-2.0)"
    npm_dir="$(mktemp -d)"
    if (cd "$npm_dir" && timeout 300 npm pack --silent @mediapipe/pose@0.5.1675469404 >/dev/null 2>&1) &&
       tar -xzf "$npm_dir"/mediapipe-pose-*.tgz -C "$npm_dir" package/pose_landmark_lite.tflite package/pose_landmark_heavy.tflite 2>/dev/null; then
      mkdir -p "$mp_models"
      for name in pose_landmark_lite.tflite pose_landmark_heavy.tflite; do
        cp "$npm_dir/package/$name" "$mp_models/$name.part" && mv "$mp_models/$name.part" "$mp_models/$name"
      done
    else
      say "could not fetch @mediapipe/pose with npm (offline?); the lite/heavy models stay unavailable, full works"
    fi
    rm -rf "$npm_dir"
  else
    say "npm not found: MediaPipe model 'full' works; for 'lite'/'heavy' run 'npm pack @mediapipe/pose@0.5.1675469404' and copy package/pose_landmark_{lite,heavy}.tflite to $mp_models"
  fi
fi
DANCE_RECOGNITION_CACHE="" "$vpython" -m dance_recognition.pose.mediapipe_bundle ||
  die "cannot build the MediaPipe pose bundle (message above)"

# --- 5. self-check ----------------------------------------------------------------------------
"$vpython" - <<'PY'
import importlib
versions = {}
for name in ("rclpy", "numpy", "torch", "cv2", "mediapipe", "rosbags"):
    module = importlib.import_module(name)
    versions[name] = getattr(module, "__version__", "ok")
from dance_recognition.msg import ActionLabel, PersonKeypoints, Skeleton  # noqa: F401
print("[setup] self-check passed: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
PY
say "done in $((SECONDS - started)) s; activate with: source $venv/bin/activate"
