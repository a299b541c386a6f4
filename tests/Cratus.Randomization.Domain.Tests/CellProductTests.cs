namespace Cratus.Randomization.Domain.Tests;

/// <summary>The cell product's identity and its unit state machine (CellProduct.cs).</summary>
public sealed class CellProductTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly Actor Pharmacist = new("pharmacist", "pharmacist");
    private static readonly Actor Qa = new("qa", "quality_assurance");

    [Theory]
    // Published worked examples: JPAC Red Book annex 2 (G123 498 654 321 → H); ICCBBA ST-001 via a published
    // implementation (ABCDE27000069 → C).
    [InlineData("G123498654321", 'H')]
    [InlineData("ABCDE27000069", 'C')]
    public void CheckCharacter_MatchesPublishedIsbt128Examples(string first13, char expected)
    {
        Assert.Equal(expected, DonationIdentificationNumber.CheckCharacter(first13));
        Assert.True(DonationIdentificationNumber.IsValid(first13 + expected));
    }

    [Theory]
    [InlineData("G123498654321G")]
    [InlineData("G123498654312H")] // two digits transposed: mod 37-2 catches it
    [InlineData("G12349865432H")]
    [InlineData("g123498654321H")]
    [InlineData("")]
    public void IsValid_RefusesWrongCheckCharacterOrForm(string din) => Assert.False(DonationIdentificationNumber.IsValid(din));

    [Fact]
    public void CheckCharacter_CanBeTheStar()
    {
        // Some DIN has the check value 36, written '*': find one and check it round-trips.
        var din = Enumerable.Range(0, 200).Select(i => $"W0000{26:D2}{i:D6}").First(d => DonationIdentificationNumber.CheckCharacter(d) == '*');
        Assert.True(DonationIdentificationNumber.IsValid(din + "*"));
        Assert.Null(ProductUnit.UnitIdProblem(din + "*"));
    }

    [Fact]
    public void UnitIdProblem_NamesTheRightCheckCharacter_AndAcceptsSponsorIds()
    {
        Assert.Contains("should be H", ProductUnit.UnitIdProblem("G123498654321X"));
        Assert.Null(ProductUnit.UnitIdProblem("G123498654321H"));
        Assert.Null(ProductUnit.UnitIdProblem("LGV-0001-07"));
        Assert.NotNull(ProductUnit.UnitIdProblem("bad id"));
    }

    private static (ProductLot Lot, ProductUnit Unit) NewUnit()
    {
        var lot = ProductLot.Register("LOT-1", "D-7", "E0001V00", At.AddDays(90), Pharmacist, At);
        return (lot, ProductUnit.Register(lot, "G123498654321H", 100_000_000, 93.5m, null, "LN2 tank 1", "units[0]"));
    }

    [Fact]
    public void Unit_MovesOnlyAlongAllowedTransitions_EachAttributed()
    {
        var (_, unit) = NewUnit();
        Assert.Equal(UnitState.InQuarantine, unit.State);
        Assert.False(unit.IsUsable(At));
        var refused = Assert.Throws<TrialRuleException>(() => unit.MoveTo(UnitState.Thawed, Pharmacist, At, "thaw"));
        Assert.Equal(RefusalReason.UnitTransitionNotAllowed, refused.Reason);
        Assert.Contains("in quarantine", refused.Message);
        Assert.Contains("released", refused.Message);

        var released = unit.MoveTo(UnitState.Released, Qa, At.AddHours(1), "lot released");
        Assert.Equal((UnitState.InQuarantine, UnitState.Released, "qa", "quality_assurance"), (released.From!.Value, released.To!.Value, released.By, released.Role));
        Assert.True(unit.IsUsable(At.AddHours(1)));
        unit.MoveTo(UnitState.Destroyed, Pharmacist, At.AddHours(2), "damaged");
        Assert.Contains("no further change", Assert.Throws<TrialRuleException>(() => unit.MoveTo(UnitState.Released, Qa, At.AddHours(3), "x")).Message);
    }

    [Fact]
    public void Unit_PastExpiry_IsNeverUsable_AndReadsExpired()
    {
        var (lot, unit) = NewUnit();
        unit.MoveTo(UnitState.Released, Qa, At, "released");
        Assert.True(unit.IsUsable(lot.Expiry.AddSeconds(-1)));
        Assert.False(unit.IsUsable(lot.Expiry));
        Assert.Equal(UnitState.Expired, unit.StateAt(lot.Expiry));
        Assert.Equal(RefusalReason.UnitNotUsable, Assert.Throws<TrialRuleException>(() => unit.EnsureUsable(lot.Expiry.AddDays(1))).Reason);
        Assert.Equal(RefusalReason.UnitNotUsable,
            Assert.Throws<TrialRuleException>(() => unit.ReserveFor(1, "P-1", Pharmacist, lot.Expiry.AddDays(1), "dose")).Reason);
    }

    [Fact]
    public void Lot_Release_NeedsJustificationOnlyWhenExceptional_AndOnlyOnce()
    {
        var lot = ProductLot.Register("LOT-2", "D-7", "E0001V00", At.AddDays(90), Pharmacist, At);
        Assert.Equal(RefusalReason.RequestInvalid, Assert.Throws<TrialRuleException>(() => lot.Release(Qa, At, true, " ")).Reason);
        lot.Release(Qa, At, true, "sterility result pending, clinical need");
        Assert.True(lot.IsReleased);
        Assert.Equal(RefusalReason.LotAlreadyReleased, Assert.Throws<TrialRuleException>(() => lot.Release(Qa, At, false, null)).Reason);
        lot.Quarantine(Qa, At.AddDays(1), "excursion in the shipper");
        Assert.False(lot.IsReleased);
        lot.Release(Qa, At.AddDays(2), false, null);
        Assert.True(lot.IsReleased);
        Assert.Equal(RefusalReason.LotExpired, Assert.Throws<TrialRuleException>(() =>
        {
            lot.Quarantine(Qa, At.AddDays(3), "again");
            lot.Release(Qa, At.AddDays(91), false, null);
        }).Reason);
    }
}
