//! Event capture. Native builtins log `sol_log_data` (Anchor's `emit!`) to stdout, not to the
//! transaction log; this routes it into the log collector as `Program log: event: <base64>` so
//! clients read events from the transaction's own logs (`crate::events::NATIVE_EVENT_PREFIX`).

use std::sync::{Arc, Once, OnceLock};

use anchor_lang::prelude::{AccountInfo, Pubkey};
use anchor_lang::solana_program::entrypoint::ProgramResult;
use base64::{prelude::BASE64_STANDARD, Engine};
use solana_sysvar::program_stubs::{set_syscall_stubs, SyscallStubs};

struct EventCapturingStubs {
    inner: Arc<OnceLock<Box<dyn SyscallStubs>>>,
}

impl EventCapturingStubs {
    fn inner(&self) -> &dyn SyscallStubs {
        loop {
            if let Some(inner) = self.inner.get() {
                return inner.as_ref();
            }
            std::hint::spin_loop();
        }
    }
}

impl SyscallStubs for EventCapturingStubs {
    fn sol_log(&self, message: &str) {
        self.inner().sol_log(message)
    }
    fn sol_log_compute_units(&self) {
        self.inner().sol_log_compute_units()
    }
    fn sol_remaining_compute_units(&self) -> u64 {
        self.inner().sol_remaining_compute_units()
    }
    fn sol_invoke_signed(
        &self,
        instruction: &anchor_lang::solana_program::instruction::Instruction,
        account_infos: &[AccountInfo],
        signers_seeds: &[&[&[u8]]],
    ) -> ProgramResult {
        self.inner().sol_invoke_signed(instruction, account_infos, signers_seeds)
    }
    fn sol_get_sysvar(&self, sysvar_id_addr: *const u8, var_addr: *mut u8, offset: u64, length: u64) -> u64 {
        self.inner().sol_get_sysvar(sysvar_id_addr, var_addr, offset, length)
    }
    fn sol_get_clock_sysvar(&self, var_addr: *mut u8) -> u64 {
        self.inner().sol_get_clock_sysvar(var_addr)
    }
    fn sol_get_epoch_schedule_sysvar(&self, var_addr: *mut u8) -> u64 {
        self.inner().sol_get_epoch_schedule_sysvar(var_addr)
    }
    fn sol_get_fees_sysvar(&self, var_addr: *mut u8) -> u64 {
        self.inner().sol_get_fees_sysvar(var_addr)
    }
    fn sol_get_rent_sysvar(&self, var_addr: *mut u8) -> u64 {
        self.inner().sol_get_rent_sysvar(var_addr)
    }
    fn sol_get_epoch_rewards_sysvar(&self, var_addr: *mut u8) -> u64 {
        self.inner().sol_get_epoch_rewards_sysvar(var_addr)
    }
    fn sol_get_last_restart_slot(&self, var_addr: *mut u8) -> u64 {
        self.inner().sol_get_last_restart_slot(var_addr)
    }
    fn sol_get_epoch_stake(&self, vote_address: *const u8) -> u64 {
        self.inner().sol_get_epoch_stake(vote_address)
    }
    unsafe fn sol_memcpy(&self, dst: *mut u8, src: *const u8, n: usize) {
        unsafe { self.inner().sol_memcpy(dst, src, n) }
    }
    unsafe fn sol_memmove(&self, dst: *mut u8, src: *const u8, n: usize) {
        unsafe { self.inner().sol_memmove(dst, src, n) }
    }
    unsafe fn sol_memcmp(&self, s1: *const u8, s2: *const u8, n: usize, result: *mut i32) {
        unsafe { self.inner().sol_memcmp(s1, s2, n, result) }
    }
    unsafe fn sol_memset(&self, s: *mut u8, c: u8, n: usize) {
        unsafe { self.inner().sol_memset(s, c, n) }
    }
    fn sol_get_return_data(&self) -> Option<(Pubkey, Vec<u8>)> {
        self.inner().sol_get_return_data()
    }
    fn sol_set_return_data(&self, data: &[u8]) {
        self.inner().sol_set_return_data(data)
    }
    fn sol_log_data(&self, fields: &[&[u8]]) {
        for field in fields {
            self.inner().sol_log(&format!("event: {}", BASE64_STANDARD.encode(field)));
        }
    }
    fn sol_get_processed_sibling_instruction(
        &self,
        index: usize,
    ) -> Option<anchor_lang::solana_program::instruction::Instruction> {
        self.inner().sol_get_processed_sibling_instruction(index)
    }
    fn sol_get_stack_height(&self) -> u64 {
        self.inner().sol_get_stack_height()
    }
}

static INSTALL: Once = Once::new();

/// Wrap solana-program-test's syscall stubs (installed once, on the first `start`). Call after
/// a `ProgramTest` has started.
pub fn install() {
    INSTALL.call_once(|| {
        let inner = Arc::new(OnceLock::new());
        let previous = set_syscall_stubs(Box::new(EventCapturingStubs { inner: inner.clone() }));
        let _ = inner.set(previous);
    });
}
