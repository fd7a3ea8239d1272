//! The keeper's scan path over synthetic accounts: decode every margin account from its raw
//! bytes (zero-copy views), compute its health, and rank every market's ADL queue on both
//! sides with the five-light indicator — all through the SDK, which calls the program's own
//! math. One thread.
//!
//! Run: `cargo bench -p bulwark-sdk --no-default-features --bench scan`
//! (optionally with account counts as arguments: `-- 10000 100000`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use anchor_lang::prelude::Pubkey;
use bulwark::math::margin::Health;
use bulwark::state::{MarginAccount, Market, PerpPosition};
use bulwark_sdk::accounts::ProgramAccount;
use bulwark_sdk::adl::{indicators, AdlQueues};
use bulwark_sdk::health::{health, market_price};

const MARKETS: u16 = 4;

/// A deterministic generator (64-bit LCG), so every run sees the same accounts.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn market(index: u16) -> Market {
    let mut m: Market = bytemuck::Zeroable::zeroed();
    m.index = index;
    m.params.tick_size = 1_000_000;
    m.params.initial_margin_bps = 1_000;
    m.params.maintenance_margin_bps = 500;
    m.quote_per_lot_tick = 1_000_000;
    m
}

/// `n` accounts as getProgramAccounts returns them: 1–3 positions each, entries within ±20%
/// of the price, $100–$10,000 of collateral.
fn synthetic(n: usize, rng: &mut Lcg) -> Vec<(Pubkey, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let mut a: MarginAccount = bytemuck::Zeroable::zeroed();
            a.collateral_balance = (100 + rng.below(9_900)) * 1_000_000;
            let positions = 1 + rng.below(3) as usize;
            for (slot, index) in
                (0..MARKETS).cycle().skip(rng.below(MARKETS as u64) as usize).take(positions).enumerate()
            {
                let lots = 1 + rng.below(100) as i64;
                let lots = if rng.below(2) == 0 { lots } else { -lots };
                let entry = 80 + rng.below(41) as i64; // $80–$120 per lot
                a.positions[slot] = PerpPosition {
                    market_index: index,
                    base_lots: lots,
                    quote_entry: -lots * entry * 1_000_000,
                    ..Default::default()
                };
            }
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            (Pubkey::new_from_array(key), a.encode())
        })
        .collect()
}

struct Timing {
    decode: Duration,
    health: Duration,
    ranking: Duration,
}

fn scan(raw: &[(Pubkey, Vec<u8>)], markets: &[Market]) -> (Timing, usize, usize) {
    let prices: Vec<_> = markets.iter().map(|m| market_price(m, 100_000_000)).collect();
    let t0 = Instant::now();
    // Zero-copy: each account is borrowed from its fetched buffer.
    let accounts: Vec<(&Pubkey, &MarginAccount)> =
        raw.iter().filter_map(|(key, data)| MarginAccount::view(data).ok().map(|a| (key, a))).collect();
    let t1 = Instant::now();
    let healths: Vec<Option<Health>> = accounts.iter().map(|(_, a)| health(a, &prices).ok()).collect();
    let below_maintenance = healths.iter().flatten().filter(|h| !h.meets_maintenance()).count();
    let t2 = Instant::now();
    let mut queues = AdlQueues::default();
    for ((key, account), h) in accounts.iter().zip(&healths) {
        if let Some(h) = h {
            queues.push(key, account, h.equity, &prices);
        }
    }
    queues.finish();
    let mut ranked_total = 0;
    for m in markets {
        for target_is_long in [true, false] {
            let lights = indicators(queues.counterparties(m.index, target_is_long));
            ranked_total += black_box(lights).len();
        }
    }
    let t3 = Instant::now();
    (Timing { decode: t1 - t0, health: t2 - t1, ranking: t3 - t2 }, below_maintenance, ranked_total)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![10_000, 100_000] } else { sizes };
    let markets: Vec<Market> = (0..MARKETS).map(market).collect();
    println!("scan benchmark: decode + health + ADL ranking (both sides, {MARKETS} markets), one thread");
    for n in sizes {
        let raw = synthetic(n, &mut Lcg(42));
        let runs = 7;
        let mut totals = Vec::new();
        let mut best: Option<Timing> = None;
        let mut counts = (0, 0);
        scan(&raw, &markets); // warm-up
        for _ in 0..runs {
            let (t, below, ranked) = scan(&raw, &markets);
            counts = (below, ranked);
            totals.push(t.decode + t.health + t.ranking);
            if best.as_ref().is_none_or(|b| t.decode + t.health + t.ranking < b.decode + b.health + b.ranking) {
                best = Some(t);
            }
        }
        totals.sort();
        let best = best.unwrap();
        println!(
            "{n:>7} accounts: median {:>7.2} ms, best {:>7.2} ms (decode {:.2}, health {:.2}, ranking {:.2}); {} below maintenance, {} ranked",
            ms(totals[runs / 2]),
            ms(totals[0]),
            ms(best.decode),
            ms(best.health),
            ms(best.ranking),
            counts.0,
            counts.1,
        );
    }
}
