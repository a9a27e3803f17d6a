#!/usr/bin/env bash
# Stage "toolchain": install and cache everything the other stages need.
# Idempotent; only Debian's packages, PyPI and crates.io are used.
. "$(dirname "$0")/lib.sh"
stage toolchain

HOST_PKGS=(build-essential flex bison bc libelf-dev libssl-dev ccache cpio kmod
	rsync zstd xz-utils python3-venv qemu-system-x86 udev busybox-static
	iproute2 nftables "clang$LLVM_SUFFIX" "lld$LLVM_SUFFIX" "llvm$LLVM_SUFFIX"
	"libclang1$LLVM_SUFFIX")

missing=()
for p in "${HOST_PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing host packages: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A private apt configuration that reads $BASE_SUITE.  The machine's own
# sources are not changed and nothing from that suite is installed: its
# .debs are only downloaded and unpacked into the cache.
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / && $3 ~ /bookworm|trixie/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || die "cannot find the Debian mirror in the machine's apt sources"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $BASE_SUITE main" >"$APT_DIR/sources.list"
APTO=(-o "Dir::Etc::sourcelist=$APT_DIR/sources.list" -o Dir::Etc::sourceparts=-
      -o "Dir::State::Lists=$APT_DIR/lists" -o APT::Get::List-Cleanup=0
      -o APT::Sandbox::User=root -o "Dir::Cache=$APT_DIR/cache")
apt_private_update() {
	if [ -z "$(find "$APT_DIR/lists" -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
		apt-get "${APTO[@]}" update -qq
	fi
}
fetch_deb() { # package version -> path of the cached .deb
	local pkg=$1 ver=$2 f
	f=$(ls "$APT_DIR/debs/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$f" ]; then
		apt_private_update
		(cd "$APT_DIR/debs" && apt-get "${APTO[@]}" download -qq "$pkg=$ver") >&2
		f=$(ls "$APT_DIR/debs/${pkg}_${ver//:/%3a}_"*.deb | head -n1)
	fi
	echo "$f"
}

# 1. The pinned base, as a git repository with one commit.
if [ ! -e "$BASE_GIT/.vjchan-base-$BASE_VERSION" ]; then
	apt_private_update
	cand=$(apt-cache "${APTO[@]}" madison "$BASE_PKG" | awk '{print $3}' | sort -V | tail -n1)
	if ! apt-cache "${APTO[@]}" madison "$BASE_PKG" | awk '{print $3}' | grep -qx "$BASE_VERSION"; then
		log "WARNING: the archive no longer has $BASE_PKG $BASE_VERSION (pinned in ci/pin.env);"
		log "WARNING: using the newest, $cand: the base is NOT the pinned one."
		BASE_VERSION=$cand
		BASE_DEB_SHA256=
	fi
	deb=$(fetch_deb "$BASE_PKG" "$BASE_VERSION")
	if [ -n "$BASE_DEB_SHA256" ]; then
		echo "$BASE_DEB_SHA256  $deb" | sha256sum -c --quiet - || die "sha256 mismatch for $deb"
	fi
	log "unpacking $BASE_PKG $BASE_VERSION"
	rm -rf "$BASE_GIT" "$SRC_DIR/unpack"
	mkdir -p "$SRC_DIR/unpack" "$BASE_GIT"
	dpkg-deb -x "$deb" "$SRC_DIR/unpack"
	tar -xJf "$SRC_DIR/unpack/$BASE_TARBALL" -C "$BASE_GIT" --strip-components=1
	rm -rf "$SRC_DIR/unpack"
	(
		cd "$BASE_GIT"
		git init -q -b base .
		# Debian's tarball ignores everything at the top level (/*).
		git add -f -A .
		GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z \
			git -c user.name=vjchan -c user.email=vjchan@invalid commit -q \
			-m "base: Debian $BASE_PKG $BASE_VERSION"
		git tag -f vjchan-base >/dev/null
	)
	touch "$BASE_GIT/.vjchan-base-$BASE_VERSION"
fi

# 2. rust-src of exactly the host rustc's version, for RUST_LIB_SRC.
rustv=$(rustc --version | awk '{print $2}')
if [ ! -d "$(rust_lib_src)" ]; then
	apt_private_update
	ver=$(apt-cache "${APTO[@]}" madison rust-src | awk '{print $3}' | grep "^$rustv+" | sort -V | tail -n1)
	[ -n "$ver" ] || die "no rust-src $rustv in $BASE_SUITE (rustc is $rustv)"
	deb=$(fetch_deb rust-src "$ver")
	rm -rf "$RUST_SRC_ROOT/$rustv"
	mkdir -p "$RUST_SRC_ROOT/$rustv"
	dpkg-deb -x "$deb" "$RUST_SRC_ROOT/$rustv"
fi

# 3. bindgen from crates.io.
if ! "$CARGO_ROOT/bin/bindgen" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	log "cargo install bindgen-cli $BINDGEN_VERSION"
	cargo install --quiet --locked --root "$CARGO_ROOT" "bindgen-cli@$BINDGEN_VERSION"
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true

# 4. virtme-ng and checkpatch's Python modules from PyPI, in a venv.
# ply and GitPython are for checkpatch.pl's SPDX check.
if ! "$VENV/bin/vng" --version 2>/dev/null | grep -q "$VIRTME_NG_VERSION" ||
   ! "$VENV/bin/python" -c "import ply, git" 2>/dev/null; then
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q "virtme-ng==$VIRTME_NG_VERSION" ply GitPython
fi

log "base $(ls -a "$BASE_GIT" | sed -n "s/^.vjchan-base-//p"), rustc $rustv, $(bindgen --version), virtme-ng $(vng --version 2>&1 | head -n1)"
