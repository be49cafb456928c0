#pragma once

// KVM structures that end in a flexible array. The UAPI headers declare those
// arrays with __DECLARE_FLEX_ARRAY, which in C++ adds a one-byte empty member
// and so changes both the struct size (and with it the ioctl number) and the
// offset of the array. These are the C layouts, checked against the ABI.

#include <linux/kvm.h>

#include "base/types.h"

namespace vk::vmspace::abi {

struct CpuidHeader {  // struct kvm_cpuid2 without its entries
    u32 nent;
    u32 padding;
};
struct MsrsHeader {  // struct kvm_msrs without its entries
    u32 nmsrs;
    u32 pad;
};
struct SignalMaskHeader {  // struct kvm_signal_mask without its set
    u32 len;
};
static_assert(sizeof(CpuidHeader) == 8 && sizeof(MsrsHeader) == 8 && sizeof(SignalMaskHeader) == 4);
static_assert(sizeof(kvm_cpuid_entry2) == 40 && sizeof(kvm_msr_entry) == 16);

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
inline constexpr unsigned long kSetSignalMask = _IOW(KVMIO, 0x8b, SignalMaskHeader);

// struct kvm_xsave without its flexible tail: the 4 KiB legacy-sized area.
struct Xsave {
    u32 region[1024];
};
inline constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, Xsave);
inline constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, Xsave);

// A header followed by N entries, laid out as the C struct would be.
template <typename Header, typename Entry, unsigned N>
struct WithEntries {
    Header hdr{};
    Entry entries[N]{};
};

}  // namespace vk::vmspace::abi
