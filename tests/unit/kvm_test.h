#pragma once

// A test fixture with a real machine and one vCPU on /dev/kvm, for unit
// tests below the kernel (vmspace, Mm, the vDSO). Without /dev/kvm it skips,
// except under CI, where it fails: CI has KVM and must not pass by skipping.
// A derived SetUp calls KvmTest::SetUp() first and returns when
// IsSkipped() or HasFatalFailure().

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>

#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"
#include "vmspace/machine.h"
#include "vmspace/vcpu.h"

namespace vk {

class KvmTest : public ::testing::Test {
protected:
    explicit KvmTest(u64 memory = 64 << 20) : memory_(memory) {}

    void SetUp() override {
        if (::access("/dev/kvm", R_OK | W_OK) != 0) {
            if (std::getenv("CI")) FAIL() << "/dev/kvm is missing or not accessible, and CI is set";
            GTEST_SKIP() << "/dev/kvm is not available";
        }
        auto m = pmap::PhysMemory::create(memory_);
        ASSERT_TRUE(m) << m.error().message();
        mem_.emplace(std::move(m.value()));
        frames_.emplace(*mem_);
        auto machine = vmspace::Machine::create(*mem_, *frames_);
        ASSERT_TRUE(machine) << machine.error().message();
        machine_ = std::move(machine.value());
        // Creating a vCPU is also what tells a PVM host apart.
        auto vcpu = vmspace::Vcpu::create(*machine_, 0);
        ASSERT_TRUE(vcpu) << vcpu.error().message();
        vcpu_ = std::move(vcpu.value());
    }

    // Declared in the order they must be built (and destroyed in reverse).
    u64 memory_;
    std::optional<pmap::PhysMemory> mem_;
    std::optional<pmap::FrameAllocator> frames_;
    std::unique_ptr<vmspace::Machine> machine_;
    std::unique_ptr<vmspace::Vcpu> vcpu_;
};

}  // namespace vk
