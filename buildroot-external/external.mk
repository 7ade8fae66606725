include $(sort $(wildcard $(BR2_EXTERNAL_FLUSSONIC_AGENT_PATH)/package/*/*.mk))
