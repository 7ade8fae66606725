# host-fakeroot from Debian 12's fakeroot/libfakeroot binary packages (included from local.mk, before
# package/fakeroot/fakeroot.mk, whose commands are defined only if not already).
# Nothing is configured or compiled, so neither host-acl (the package's library dependency, which
# Debian's binary brings itself) nor autoreconf's host-autoconf/automake/libtool are needed: the
# overrides keep the package's own assignments and the autotools infrastructure's from adding them.
override HOST_FAKEROOT_DEPENDENCIES = host-skeleton
override HOST_FAKEROOT_AUTORECONF = NO
define HOST_FAKEROOT_CONFIGURE_CMDS
	true
endef
define HOST_FAKEROOT_BUILD_CMDS
	true
endef
define HOST_FAKEROOT_INSTALL_CMDS
	$(INSTALL) -D -m 0755 @FAKEROOT_ROOT@/usr/bin/faked-sysv $(HOST_DIR)/bin/faked
	$(INSTALL) -D -m 0644 $(wildcard @FAKEROOT_ROOT@/usr/lib/*/libfakeroot/libfakeroot-sysv.so) \
		$(HOST_DIR)/lib/libfakeroot/libfakeroot-sysv.so
	sed -e 's|^FAKEROOT_PREFIX=.*|FAKEROOT_PREFIX=$(HOST_DIR)|' \
		-e 's|^FAKEROOT_BINDIR=.*|FAKEROOT_BINDIR=$(HOST_DIR)/bin|' \
		-e 's|^PATHS=.*|PATHS=$(HOST_DIR)/lib/libfakeroot|' \
		-e 's|^FAKED=.*|FAKED=$(HOST_DIR)/bin/faked|' \
		@FAKEROOT_ROOT@/usr/bin/fakeroot-sysv >$(HOST_DIR)/bin/fakeroot
	chmod 0755 $(HOST_DIR)/bin/fakeroot
endef
