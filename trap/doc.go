// Package trap turns policy groups and connections into the desired set of
// kernel XFRM policies (trap, bypass, block) and reconciles the kernel to it,
// adding before deleting. It sees the kernel only through the xfrm.Kernel
// interface.
package trap
