################################################################################
#
# flussonic-agent
#
################################################################################

FLUSSONIC_AGENT_VERSION = 0.2.0
ifeq ($(BR2_PACKAGE_FLUSSONIC_AGENT_LOCAL),y)
# The repository this external tree lives in; the bundle comes from "make bundle".
FLUSSONIC_AGENT_SITE = $(BR2_EXTERNAL_FLUSSONIC_AGENT_PATH)/../agent-src
FLUSSONIC_AGENT_SITE_METHOD = local
FLUSSONIC_AGENT_BUNDLE = $(call qstrip,$(BR2_PACKAGE_FLUSSONIC_AGENT_BUNDLE))
else
# Release tarball: native/ sources plus the prebuilt bundle (scripts/buildroot-release.sh).
FLUSSONIC_AGENT_SITE = https://github.com/flussonic/flussonic-agent/releases/download/v$(FLUSSONIC_AGENT_VERSION)
FLUSSONIC_AGENT_BUNDLE = $(@D)/bundle/agent-quickjs.js
endif
FLUSSONIC_AGENT_LICENSE = MIT, MIT (QuickJS), Apache-2.0 (mbed TLS)
FLUSSONIC_AGENT_LICENSE_FILES = LICENSE
ifeq ($(BR2_PACKAGE_FLUSSONIC_AGENT_LOCAL),y)
# The licence is at the repository's top, outside the local site (agent-src).
define FLUSSONIC_AGENT_COPY_LICENSE
	$(INSTALL) -m 0644 $(BR2_EXTERNAL_FLUSSONIC_AGENT_PATH)/../LICENSE $(@D)/LICENSE
endef
FLUSSONIC_AGENT_POST_RSYNC_HOOKS += FLUSSONIC_AGENT_COPY_LICENSE
endif

# Linked against the quickjs and mbedtls packages' staging libraries; only
# the host qjsc is compiled from quickjs's sources (the bytecode must come
# from the same QuickJS). With own sources (Buildroot 2024.02, packages too
# old) both are compiled here, mbed TLS with the agent's trimmed config.
ifeq ($(BR2_PACKAGE_FLUSSONIC_AGENT_OWN_SOURCES),y)
FLUSSONIC_AGENT_QUICKJS_SRC = $(call qstrip,$(BR2_PACKAGE_FLUSSONIC_AGENT_QUICKJS_SRCDIR))
FLUSSONIC_AGENT_MBEDTLS_SRC = $(call qstrip,$(BR2_PACKAGE_FLUSSONIC_AGENT_MBEDTLS_SRCDIR))
FLUSSONIC_AGENT_LIB_OPTS = \
	QUICKJS_SRC=$(FLUSSONIC_AGENT_QUICKJS_SRC) \
	MBEDTLS_SRC=$(FLUSSONIC_AGENT_MBEDTLS_SRC)
else
FLUSSONIC_AGENT_DEPENDENCIES += quickjs mbedtls
FLUSSONIC_AGENT_QUICKJS_SRC = $(QUICKJS_SRCDIR)
FLUSSONIC_AGENT_LIB_OPTS = \
	QUICKJS_CFLAGS=-I$(STAGING_DIR)/usr/include/quickjs \
	QUICKJS_LIBS=$(STAGING_DIR)/usr/lib/quickjs/libquickjs.a \
	QUICKJS_VERSION=$(shell cat $(QUICKJS_SRCDIR)/VERSION 2>/dev/null) \
	MBEDTLS_LIBS="-lmbedtls -lmbedx509 -lmbedcrypto"
endif

ifeq ($(BR2_TOOLCHAIN_HAS_LIBATOMIC),y)
FLUSSONIC_AGENT_EXTRA_LIBS = -latomic
endif

# What --version reports: Debian-style names for ARM (armhf/armel).
FLUSSONIC_AGENT_ARCH_NAME = \
	$(if $(BR2_arm),$(if $(BR2_ARM_EABIHF),armhf,armel),$(call qstrip,$(BR2_ARCH)))

# Optimisation as BR2_OPTIMIZE_* says (in TARGET_CFLAGS); static only
# when the toolchain is. The unstripped binary is installed; Buildroot
# strips it according to BR2_STRIP_*.
FLUSSONIC_AGENT_MAKE_OPTS = \
	CC="$(TARGET_CC)" \
	AR="$(TARGET_AR)" \
	STRIP="$(TARGET_CROSS)strip" \
	CFLAGS="$(TARGET_CFLAGS)" \
	LDFLAGS="$(TARGET_LDFLAGS)" \
	STATIC=$(if $(BR2_STATIC_LIBS),1,0) \
	EXTRA_LIBS="$(FLUSSONIC_AGENT_EXTRA_LIBS)" \
	HOST_CC="$(HOSTCC)" \
	HOST_QJSC=$(@D)/br-build/host-qjsc \
	QJSC=$(@D)/br-build/host-qjsc \
	$(FLUSSONIC_AGENT_LIB_OPTS) \
	BUNDLE=$(FLUSSONIC_AGENT_BUNDLE) \
	OUT=$(@D)/br-build/flussonic-agent \
	ARCH_NAME=$(FLUSSONIC_AGENT_ARCH_NAME) \
	VERSION=$(FLUSSONIC_AGENT_VERSION)

define FLUSSONIC_AGENT_BUILD_CMDS
	@test -f "$(FLUSSONIC_AGENT_BUNDLE)" || { \
		echo "flussonic-agent: no JavaScript bundle at $(FLUSSONIC_AGENT_BUNDLE)"; \
		echo "flussonic-agent: run 'make bundle' at the top of the flussonic-agent repository first"; \
		exit 1; }
	@test -f "$(FLUSSONIC_AGENT_QUICKJS_SRC)/quickjs.c" || { \
		echo "flussonic-agent: no QuickJS sources in '$(FLUSSONIC_AGENT_QUICKJS_SRC)'"; \
		exit 1; }
	$(if $(FLUSSONIC_AGENT_MBEDTLS_SRC),test -f "$(FLUSSONIC_AGENT_MBEDTLS_SRC)/library/ssl_tls.c" || { \
		echo "flussonic-agent: no mbed TLS sources in '$(FLUSSONIC_AGENT_MBEDTLS_SRC)'"; \
		exit 1; })
	$(HOST_MAKE_ENV) $(MAKE) -C $(@D)/native \
		$(FLUSSONIC_AGENT_MAKE_OPTS) QUICKJS_SRC=$(FLUSSONIC_AGENT_QUICKJS_SRC) host-qjsc
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D)/native \
		$(FLUSSONIC_AGENT_MAKE_OPTS) all
endef

# agent.json from the options: JSON strings escaped (\\ and "), then
# quoted for the shell (').
FLUSSONIC_AGENT_JSON_STR = "$(subst ','\'',$(subst ",\",$(subst \,\\,$(1))))"
FLUSSONIC_AGENT_JSON_LIST = [$(subst $(space),$(comma),$(foreach v,$(1),$(call FLUSSONIC_AGENT_JSON_STR,$(v))))]
FLUSSONIC_AGENT_ENDPOINTS = $(call qstrip,$(BR2_PACKAGE_FLUSSONIC_AGENT_ENDPOINTS))
FLUSSONIC_AGENT_CA_FILE = $(call qstrip,$(BR2_PACKAGE_FLUSSONIC_AGENT_CA_FILE))
FLUSSONIC_AGENT_SPKI_PINS = $(call qstrip,$(BR2_PACKAGE_FLUSSONIC_AGENT_SPKI_PINS))

# No endpoints: agent.json comes from a rootfs overlay. With endpoints,
# the agent must be able to check the server: a CA file or SPKI pins.
ifeq ($(BR_BUILDING),y)
ifneq ($(FLUSSONIC_AGENT_ENDPOINTS),)
ifneq ($(filter-out %:%,$(FLUSSONIC_AGENT_ENDPOINTS)),)
$(error flussonic-agent: BR2_PACKAGE_FLUSSONIC_AGENT_ENDPOINTS: not host:port: $(filter-out %:%,$(FLUSSONIC_AGENT_ENDPOINTS)))
endif
ifeq ($(FLUSSONIC_AGENT_CA_FILE)$(FLUSSONIC_AGENT_SPKI_PINS),)
$(error flussonic-agent: endpoints set but neither BR2_PACKAGE_FLUSSONIC_AGENT_CA_FILE nor BR2_PACKAGE_FLUSSONIC_AGENT_SPKI_PINS: the agent could not check the server)
endif
ifneq ($(FLUSSONIC_AGENT_CA_FILE),)
ifeq ($(wildcard $(FLUSSONIC_AGENT_CA_FILE)),)
$(error flussonic-agent: BR2_PACKAGE_FLUSSONIC_AGENT_CA_FILE $(FLUSSONIC_AGENT_CA_FILE) does not exist)
endif
endif
endif
endif

ifneq ($(FLUSSONIC_AGENT_ENDPOINTS),)
define FLUSSONIC_AGENT_INSTALL_CONFIG
	$(if $(FLUSSONIC_AGENT_CA_FILE), \
		$(INSTALL) -D -m 0644 $(FLUSSONIC_AGENT_CA_FILE) \
			$(TARGET_DIR)/etc/flussonic-agent/ca.pem)
	printf '%s\n' '{' \
		'  "endpoints": $(call FLUSSONIC_AGENT_JSON_LIST,$(FLUSSONIC_AGENT_ENDPOINTS)),' \
		$(if $(FLUSSONIC_AGENT_CA_FILE),'  "ca_file": "/etc/flussonic-agent/ca.pem"$(comma)') \
		'  "spki_pins": $(call FLUSSONIC_AGENT_JSON_LIST,$(FLUSSONIC_AGENT_SPKI_PINS)),' \
		'  "activation_token_file": $(call FLUSSONIC_AGENT_JSON_STR,$(call qstrip,$(BR2_PACKAGE_FLUSSONIC_AGENT_TOKEN_FILE))),' \
		'  "state_file": "/var/lib/flussonic-agent/state.json",' \
		'  "targets": {' \
		'    "rtsp": $(call FLUSSONIC_AGENT_JSON_STR,$(call qstrip,$(BR2_PACKAGE_FLUSSONIC_AGENT_RTSP_TARGET))),' \
		'    "http": $(call FLUSSONIC_AGENT_JSON_STR,$(call qstrip,$(BR2_PACKAGE_FLUSSONIC_AGENT_HTTP_TARGET)))' \
		'  },' \
		'  "log_level": "info"' \
		'}' >$(TARGET_DIR)/etc/flussonic-agent/agent.json
endef
endif

# The agent only dials out: it runs as its own user, whose home (chowned
# to it) is the state directory, the one place it writes.
define FLUSSONIC_AGENT_USERS
	flussonic-agent -1 flussonic-agent -1 * /var/lib/flussonic-agent - - flussonic-agent daemon
endef

define FLUSSONIC_AGENT_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(@D)/br-build/flussonic-agent.unstripped \
		$(TARGET_DIR)/usr/bin/flussonic-agent
	$(INSTALL) -D -m 0755 $(FLUSSONIC_AGENT_PKGDIR)/flussonic-agent-supervise \
		$(TARGET_DIR)/usr/sbin/flussonic-agent-supervise
	$(INSTALL) -d -m 0755 $(TARGET_DIR)/etc/flussonic-agent \
		$(TARGET_DIR)/etc/default $(TARGET_DIR)/var/lib/flussonic-agent
	$(FLUSSONIC_AGENT_INSTALL_CONFIG)
	printf '%s\n' \
		'FLUSSONIC_AGENT_ARGS="--config /etc/flussonic-agent/agent.json$(if $(BR2_PACKAGE_FLUSSONIC_AGENT_SYSLOG), --syslog)"' \
		$(if $(BR2_PACKAGE_FLUSSONIC_AGENT_SYSLOG),,'FLUSSONIC_AGENT_STDERR=/dev/console') \
		>$(TARGET_DIR)/etc/default/flussonic-agent
endef

define FLUSSONIC_AGENT_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(FLUSSONIC_AGENT_PKGDIR)/S60flussonic-agent \
		$(TARGET_DIR)/etc/init.d/S60flussonic-agent
endef

define FLUSSONIC_AGENT_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(FLUSSONIC_AGENT_PKGDIR)/flussonic-agent.service \
		$(TARGET_DIR)/usr/lib/systemd/system/flussonic-agent.service
endef

$(eval $(generic-package))
