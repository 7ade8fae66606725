# shellcheck shell=sh
# Sourced by scripts/buildroot-check.sh and scripts/buildroot-image.sh: an external Buildroot
# toolchain made from Debian's cross gcc, offline.
#
# br_toolchain CROSS DIR: wrappers in DIR/bin around /usr/bin/CROSS-* with a sysroot of their own
# in DIR/sysroot (Buildroot refuses a compiler configured --with-sysroot=/), made once.
# br_toolchain_defconfig CROSS DIR: the BR2_TOOLCHAIN_EXTERNAL_* lines for it.
br_toolchain() {
	_cross=$1 _tc=$2
	[ -f "$_tc/.done" ] && return 0
	rm -rf "$_tc"
	mkdir -p "$_tc/bin" "$_tc/sysroot/usr/$_cross"
	cp -a "/usr/$_cross/include" "$_tc/sysroot/usr/include"
	cp -a "/usr/$_cross/lib" "$_tc/sysroot/usr/lib"
	ln -s usr/lib "$_tc/sysroot/lib"
	# libc.so and friends are linker scripts naming /usr/$_cross/lib/...
	ln -s ../lib "$_tc/sysroot/usr/$_cross/lib"
	for _t in gcc cpp; do # no g++: the agent is C, and Buildroot would want BR2_TOOLCHAIN_EXTERNAL_CXX
		[ -x "/usr/bin/$_cross-$_t" ] || continue
		cat >"$_tc/bin/$_cross-$_t" <<-EOF
			#!/bin/sh
			# Debian's $_cross-$_t with its own sysroot; -v shows that sysroot, not "/". -B: Buildroot
			# finds the sysroot from -print-file-name=libc.a, which would else be Debian's tooldir.
			for a in "\$@"; do
			  if [ "\$a" = -v ]; then
			    /usr/bin/$_cross-$_t --sysroot="$_tc/sysroot" -B"$_tc/sysroot/usr/lib/" "\$@" 2>&1 | sed 's|--with-sysroot=/ |--with-sysroot=$_tc/sysroot |' >&2
			    exit 0
			  fi
			done
			exec /usr/bin/$_cross-$_t --sysroot="$_tc/sysroot" -B"$_tc/sysroot/usr/lib/" "\$@"
		EOF
		chmod +x "$_tc/bin/$_cross-$_t"
	done
	for _t in ar as ld ld.bfd nm objcopy objdump ranlib readelf strip addr2line size strings gcc-ar gcc-nm gcc-ranlib; do
		if [ -x "/usr/bin/$_cross-$_t" ]; then ln -s "/usr/bin/$_cross-$_t" "$_tc/bin/$_cross-$_t"; fi
	done
	touch "$_tc/.done"
}

br_toolchain_defconfig() {
	_cross=$1 _tc=$2
	_gcc=$("/usr/bin/$_cross-gcc" -dumpversion | cut -d. -f1)
	_h=$(sed -n 's/^#define LINUX_VERSION_CODE \([0-9]*\)$/\1/p' "/usr/$_cross/include/linux/version.h")
	cat <<-EOF
		BR2_TOOLCHAIN_EXTERNAL=y
		BR2_TOOLCHAIN_EXTERNAL_CUSTOM=y
		BR2_TOOLCHAIN_EXTERNAL_PATH="$_tc"
		BR2_TOOLCHAIN_EXTERNAL_CUSTOM_PREFIX="$_cross"
		BR2_TOOLCHAIN_EXTERNAL_GCC_$_gcc=y
		BR2_TOOLCHAIN_EXTERNAL_HEADERS_$((_h >> 16))_$(((_h >> 8) & 255))=y
		BR2_TOOLCHAIN_EXTERNAL_CUSTOM_GLIBC=y
		BR2_TOOLCHAIN_EXTERNAL_OPENMP=y
		# BR2_TOOLCHAIN_EXTERNAL_INET_RPC is not set
	EOF
}
