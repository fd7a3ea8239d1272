// Insurance vault shares as a staker sees them (math/insurance.rs, sdk/src/insurance.rs).

import { div, toU64, U128 } from './safeMath';

/** Tokens `shares` redeem for, rounded down (`redeem_amount`). */
export function redeemAmount(shares: bigint, balance: bigint, totalShares: bigint): bigint {
    if (totalShares === 0n) return 0n;
    return toU64(div(shares * balance, totalShares, U128));
}

/** What an unstake claim pays: the shares' value now, never more than at the request. */
export function unstakeClaimAmount(requestValue: bigint, shares: bigint, balance: bigint, totalShares: bigint): bigint {
    const now = redeemAmount(shares, balance, totalShares);
    return now < requestValue ? now : requestValue;
}

export type UnstakeState = 'none' | 'cooling down' | 'claimable' | 'lapsed';

export type StakeInput = {
    shares: bigint;
    unstakeRequestShares: bigint;
    unstakeAvailableUnix: bigint;
    unstakeRequestValue: bigint;
    unstakeClaimDeadlineUnix: bigint;
    shareEpoch: bigint;
};

export type VaultInput = { insuranceBalance: bigint; insuranceTotalShares: bigint; insuranceShareEpoch: bigint };

export type StakeView = {
    shares: bigint;
    /** What all the stake's shares redeem for now. */
    value: bigint;
    request: UnstakeState;
    requestShares: bigint;
    requestValue: bigint;
    /** What a claim would pay now. */
    claimAmount: bigint;
    availableUnix: bigint;
    claimDeadlineUnix: bigint;
    /** Shares from an epoch the vault has since been wiped out of count as none. */
    staleEpoch: boolean;
};

/** `stake_view`: a stake against its vault at unix time `now`. */
export function stakeView(stake: StakeInput, vault: VaultInput, now: bigint): StakeView {
    const staleEpoch = stake.shareEpoch !== vault.insuranceShareEpoch;
    const s = staleEpoch
        ? { ...stake, shares: 0n, unstakeRequestShares: 0n, unstakeAvailableUnix: 0n, unstakeRequestValue: 0n, unstakeClaimDeadlineUnix: 0n }
        : stake;
    const request: UnstakeState =
        s.unstakeRequestShares === 0n
            ? 'none'
            : now < s.unstakeAvailableUnix
              ? 'cooling down'
              : now <= s.unstakeClaimDeadlineUnix
                ? 'claimable'
                : 'lapsed';
    const { insuranceBalance: balance, insuranceTotalShares: total } = vault;
    return {
        shares: s.shares,
        value: redeemAmount(s.shares, balance, total),
        request,
        requestShares: s.unstakeRequestShares,
        requestValue: s.unstakeRequestValue,
        claimAmount: unstakeClaimAmount(s.unstakeRequestValue, s.unstakeRequestShares, balance, total),
        availableUnix: s.unstakeAvailableUnix,
        claimDeadlineUnix: s.unstakeClaimDeadlineUnix,
        staleEpoch,
    };
}
