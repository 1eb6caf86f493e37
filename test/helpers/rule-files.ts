// Rule overrides from the review, as files: the one that makes application-caused
// and unknown Xids fatal, and a sub-millisecond window.
export const ALL_FATAL = `apiVersion: gpu-health-agent/v1
unknown:
  xid: {severity: fatal}
xid:
  "13": {severity: fatal}
  "31": {severity: fatal}
  "43": {severity: fatal}
  "45": {severity: fatal}
`;
