/**
 * One emulated camera board per guest architecture: which Debian kernel boots it, which QEMU
 * machine, which modules the initramfs must load for its NIC and the test-rig control channel.
 * Facts measured on Debian 12 / QEMU 7.2.
 */
export type Arch = "armhf" | "aarch64" | "mipsel" | "armel";
export const ARCHES: Arch[] = ["armhf", "aarch64", "mipsel", "armel"];

export interface Board {
  arch: Arch;
  qemu: string;
  /** Machine/CPU/device args, without kernel, network backend and chardevs. */
  machineArgs: string[];
  /** Device that uses netdev id "n0". */
  nicArgs: string[];
  /** The serial console the camera's getty runs on (the kernel console). */
  consoleTty: string;
  /** Test-rig control channel: a root shell on a second port that is not on any network. */
  controlTty: string;
  /** How the control chardev "ctl" is attached. */
  controlArgs: string[];
  /** Modules to load, by name; dependencies are added from each .ko's depends=. */
  modules: string[];
  /** Kernel file inside the unpacked kernel .deb, and an optional DTB (raspi0). */
  kernelGlob: RegExp;
  dtb?: RegExp;
  extraCmdline: string;
  memMb: number;
  /** How a raw "flash" disk (drive id "flash") is attached, for state that survives a reboot. */
  flashArgs?: string[];
}

/** QEMU's `virt` machine with virtio NIC, console and flash: the ARMv7 and AArch64 boards differ only in CPU. */
function virtBoard(arch: Arch, qemu: string, cpu: string): Board {
  return {
    arch,
    qemu,
    machineArgs: ["-M", "virt", "-cpu", cpu],
    nicArgs: ["-device", "virtio-net-device,netdev=n0"],
    consoleTty: "ttyAMA0",
    controlTty: "hvc0",
    controlArgs: ["-device", "virtio-serial-device", "-device", "virtconsole,chardev=ctl"],
    modules: ["virtio_mmio", "virtio_net", "virtio_console", "virtio_blk"],
    kernelGlob: /^vmlinuz-/,
    extraCmdline: "",
    memMb: 128,
    flashArgs: ["-device", "virtio-blk-device,drive=flash"],
  };
}

export const BOARDS: Record<Arch, Board> = {
  armhf: virtBoard("armhf", "qemu-system-arm", "cortex-a15"),
  aarch64: virtBoard("aarch64", "qemu-system-aarch64", "cortex-a53"),
  mipsel: {
    arch: "mipsel",
    qemu: "qemu-system-mipsel",
    machineArgs: ["-M", "malta", "-vga", "none"],
    nicArgs: ["-device", "pcnet,netdev=n0,romfile="],
    consoleTty: "ttyS0",
    controlTty: "ttyS1",
    controlArgs: [],
    modules: ["pcnet32"],
    kernelGlob: /^vmlinuz-/,
    extraCmdline: "",
    memMb: 128,
  },
  armel: {
    arch: "armel",
    qemu: "qemu-system-arm",
    machineArgs: ["-M", "raspi0"],
    nicArgs: ["-device", "usb-net,netdev=n0"],
    consoleTty: "ttyAMA0",
    // The rpi-zero DTB leaves the second UART disabled: the control line is a USB serial
    // adapter (QEMU's usb-serial is an FTDI) behind a hub, next to the USB NIC.
    controlTty: "ttyUSB0",
    controlArgs: ["-device", "usb-hub,id=hub", "-device", "usb-serial,chardev=ctl,bus=usb-bus.0"],
    modules: ["cdc_ether", "rndis_host", "ftdi_sio"],
    kernelGlob: /^vmlinuz-/,
    dtb: /bcm2835-rpi-zero\.dtb$/,
    extraCmdline: "initcall_blacklist=bcm2835_power_driver_init",
    memMb: 512,
  },
};
