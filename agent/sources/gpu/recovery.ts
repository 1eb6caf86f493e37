// NVIDIA's GPU recovery action codes (nvmlDeviceGpuRecoveryAction_t), the same
// numbers in NVML's field and DCGM_FI_DEV_GPU_RECOVERY_ACTION. The NVML ABI probe
// checks each name's value against NVIDIA's nvml.h.
import type { RecoveryAction } from '../../model/evidence.ts';

/** Indexed by code. */
export const RECOVERY_ACTION_NAMES = [
  'NVML_GPU_RECOVERY_ACTION_NONE',
  'NVML_GPU_RECOVERY_ACTION_GPU_RESET',
  'NVML_GPU_RECOVERY_ACTION_NODE_REBOOT',
  'NVML_GPU_RECOVERY_ACTION_DRAIN_P2P',
  'NVML_GPU_RECOVERY_ACTION_DRAIN_AND_RESET',
  'NVML_GPU_RECOVERY_ACTION_RECOVER_IMEX_DOMAIN',
  'NVML_GPU_RECOVERY_ACTION_BUS_RESET',
  'NVML_GPU_RECOVERY_ACTION_SYSTEM_REBOOT',
] as const;

export function recoveryAction(code: number): RecoveryAction {
  return { code, name: RECOVERY_ACTION_NAMES[code] ?? `NVML_GPU_RECOVERY_ACTION_${code}` };
}
