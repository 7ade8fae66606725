# host-patchelf from Debian's 0.14.3 source with Buildroot's --make-rpath-relative patch (applied
# by scripts/buildroot-image.sh; included from local.mk, before package/patchelf/patchelf.mk, whose
# commands are defined only if not already). That source is a git snapshot without a configure
# script; patchelf is one C++ file, so it is compiled directly instead of autoreconf'd, which
# would pull host-m4, host-autoconf, host-automake and host-libtool into every build (~1 min).
override HOST_PATCHELF_DEPENDENCIES = host-skeleton
override HOST_PATCHELF_AUTORECONF = NO
define HOST_PATCHELF_CONFIGURE_CMDS
	true
endef
define HOST_PATCHELF_BUILD_CMDS
	$(HOSTCXX) $(HOST_CXXFLAGS) -std=c++17 -D_FILE_OFFSET_BITS=64 \
		-DPACKAGE_STRING='"patchelf 0.14.3"' \
		-o $(@D)/patchelf $(@D)/src/patchelf.cc $(HOST_LDFLAGS)
endef
define HOST_PATCHELF_INSTALL_CMDS
	$(INSTALL) -D -m 0755 $(@D)/patchelf $(HOST_DIR)/bin/patchelf
endef
