################################################################################
#
# flussonic-harden
#
################################################################################

# Shell scripts and data from this directory only: no source to download.
FLUSSONIC_HARDEN_LICENSE = MIT

FLUSSONIC_HARDEN_ROOT_PASSWORD = \
	$(if $(BR2_PACKAGE_FLUSSONIC_HARDEN_ROOT_DEVICE_SECRET),device-secret,lock)

define FLUSSONIC_HARDEN_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(FLUSSONIC_HARDEN_PKGDIR)/flussonic-harden \
		$(TARGET_DIR)/usr/sbin/flussonic-harden
	$(INSTALL) -D -m 0755 $(FLUSSONIC_HARDEN_PKGDIR)/flussonic-listeners \
		$(TARGET_DIR)/usr/sbin/flussonic-listeners
	$(INSTALL) -D -m 0644 $(FLUSSONIC_HARDEN_PKGDIR)/flussonic-harden-common.sh \
		$(TARGET_DIR)/usr/share/flussonic-harden/flussonic-harden-common.sh
	$(INSTALL) -D -m 0644 $(FLUSSONIC_HARDEN_PKGDIR)/default-credentials.tsv \
		$(TARGET_DIR)/usr/share/flussonic-harden/default-credentials.tsv
	$(INSTALL) -d -m 0755 $(TARGET_DIR)/etc/default
	printf '%s\n' \
		'FLUSSONIC_HARDEN_ROOT_PASSWORD=$(FLUSSONIC_HARDEN_ROOT_PASSWORD)' \
		'FLUSSONIC_HARDEN_SECRET_CMD="$(call qstrip,$(BR2_PACKAGE_FLUSSONIC_HARDEN_SECRET_CMD))"' \
		'FLUSSONIC_HARDEN_KEEP_USERS="$(call qstrip,$(BR2_PACKAGE_FLUSSONIC_HARDEN_KEEP_USERS))"' \
		'FLUSSONIC_HARDEN_LISTENERS=$(if $(BR2_PACKAGE_FLUSSONIC_HARDEN_DISABLE_LISTENERS),disable,report)' \
		'FLUSSONIC_HARDEN_CHECK_LISTENERS=$(if $(BR2_PACKAGE_FLUSSONIC_HARDEN_FAIL_ON_LISTENERS),fail,warn)' \
		'FLUSSONIC_HARDEN_ALLOW_LISTEN="$(call qstrip,$(BR2_PACKAGE_FLUSSONIC_HARDEN_ALLOW_LISTEN))"' \
		>$(TARGET_DIR)/etc/default/flussonic-harden
endef

# Rootfs policy: on the final tree, after the rootfs overlays, the
# post-build scripts and the users tables (fs/common.mk runs these hooks
# in each filesystem's copy, under fakeroot). Closes what is open, then
# fails the build on what its own settings call a hole.
define FLUSSONIC_HARDEN_ROOTFS_HARDEN
	$(FLUSSONIC_HARDEN_PKGDIR)/flussonic-harden build $(TARGET_DIR)
	$(FLUSSONIC_HARDEN_PKGDIR)/flussonic-harden check $(TARGET_DIR)
endef
FLUSSONIC_HARDEN_ROOTFS_PRE_CMD_HOOKS += FLUSSONIC_HARDEN_ROOTFS_HARDEN

define FLUSSONIC_HARDEN_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(FLUSSONIC_HARDEN_PKGDIR)/S05flussonic-harden \
		$(TARGET_DIR)/etc/init.d/S05flussonic-harden
endef

define FLUSSONIC_HARDEN_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(FLUSSONIC_HARDEN_PKGDIR)/flussonic-harden.service \
		$(TARGET_DIR)/usr/lib/systemd/system/flussonic-harden.service
endef

$(eval $(generic-package))
