/* SPDX-License-Identifier: GPL-2.0 */
/* The flat guest binary, embedded in kvmig-vm (see kvm.c). */
	.section .rodata
	.balign 64
	.globl guest_image_start
	.globl guest_image_end
guest_image_start:
	.incbin GUEST_BIN
guest_image_end:
	.section .note.GNU-stack,"",@progbits
