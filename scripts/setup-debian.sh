#!/usr/bin/env bash
# Installs samcli's build and test dependencies from Debian/Ubuntu packages (run as root or with sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# libopenblas0-openmp: without it LibTorch falls back to reference BLAS, about 25x slower.
# libgoogle-perftools-dev: tcmalloc, the allocator the tools link (CMakeLists.txt, SAMCLI_MALLOC).
# python3-torch: generates the test fixture models and runs the export scripts in weights/.
# parallel: the tests run sharded jobs through GNU parallel as docs/scaling.md shows; file and
# dpkg-dev: cpack -G DEB reads the tools' library dependencies with them; xvfb and xdotool: the
# interactive window is tested in a virtual display, driven by synthetic clicks and keys.
# slurm-wlm, slurmdbd, munge, mariadb-server-core and mariadb-client-core: tests/e2e/test_slurm.py
# starts a single-node Slurm with accounting (sacct) and runs docs/scaling.md's array job on it; the
# -core MariaDB packages bring the server binaries without a system service.
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake git ca-certificates file dpkg-dev \
  libtorch-dev libopenblas0-openmp libgoogle-perftools-dev libopencv-dev libcli11-dev nlohmann-json3-dev catch2 \
  python3-torch python3-numpy python3-pil parallel xvfb xdotool \
  slurm-wlm slurmdbd munge mariadb-server-core mariadb-client-core >/dev/null
echo "setup-debian: dependencies installed" >&2
