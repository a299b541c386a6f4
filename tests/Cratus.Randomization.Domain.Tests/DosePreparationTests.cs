using Cratus.Randomization.Domain;

namespace Cratus.Randomization.Domain.Tests;

/// <summary>The prepared dose's rules: its moves, the window (the placebo's too), the two-person check, the bedside rule.</summary>
public sealed class DosePreparationTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 15, 0, 0, TimeSpan.Zero);
    private static readonly Actor Preparer = new("pharm-1", "pharmacist");
    private static readonly Actor Checker = new("pharm-2", "pharmacist");
    private static readonly Actor Nurse = new("coord-1", "site_coordinator");
    private static readonly CellMeasurements Measured = new(105_000_000, 91.5m, 100_000_000, 20m);

    private static DosePreparation Cells(DoseHandlingDefinition? handling = null) => DosePreparation.Prepare("CP-AAAAAAAAAA", "P-1", "UM", false, 100_000_000,
        [("U-1", 60_000_000), ("U-2", 60_000_000)], Measured, Now.AddMinutes(-30), Preparer, Now, handling ?? new());

    private static DosePreparation Placebo() => DosePreparation.Prepare("CP-BBBBBBBBBB", "P-2", "UM", true, 0, [], null, Now.AddMinutes(-30), Preparer, Now, new());

    private static DosePreparation Dispatched(DosePreparation dose)
    {
        dose.Verify(Checker, Now);
        dose.Dispatch("courier", Preparer, Now);
        return dose;
    }

    [Fact]
    public void UseBy_IsTheStartPlusTheWindow_ForCellsAndPlaceboAlike()
    {
        Assert.Equal(Now.AddMinutes(-30).AddHours(4), Cells().UseBy);
        Assert.Equal(Now.AddMinutes(-30).AddHours(4), Placebo().UseBy);
        Assert.Equal(Now.AddMinutes(-30).AddMinutes(90), Cells(new DoseHandlingDefinition { ThawToInfusionMinutes = 90 }).UseBy);
    }

    [Fact]
    public void Prepare_TooFewCells_OrUnitsForThePlacebo_IsRefused()
    {
        var few = Assert.Throws<TrialRuleException>(() => DosePreparation.Prepare("CP-A", "P-1", "UM", false, 100_000_000, [("U-1", 60_000_000)], Measured,
            Now, Preparer, Now, new()));
        var placeboWithUnits = Assert.Throws<TrialRuleException>(() => DosePreparation.Prepare("CP-A", "P-1", "UM", true, 0, [("U-1", 60_000_000)], null,
            Now, Preparer, Now, new()));

        Assert.Equal(RefusalReason.ProductCellsInsufficient, few.Reason);
        Assert.Equal(RefusalReason.RequestInvalid, placeboWithUnits.Reason);
    }

    [Fact]
    public void Verify_ByThePreparer_IsRefused_ThenMovesOnlyAlongTheAllowedStates()
    {
        var dose = Cells();
        Assert.Equal(RefusalReason.SecondPharmacistRequired, Assert.Throws<TrialRuleException>(() => dose.Verify(Preparer, Now)).Reason);
        Assert.Equal(RefusalReason.DoseNotReleased, Assert.Throws<TrialRuleException>(() => dose.Dispatch("courier", Preparer, Now)).Reason);
        dose.Verify(Checker, Now);
        Assert.Equal(RefusalReason.DoseStateNotAllowed, Assert.Throws<TrialRuleException>(() => dose.Return("unused", Preparer, Now)).Reason);
        dose.Dispatch("courier", Preparer, Now);
        Assert.Equal(RefusalReason.BedsideVerificationRequired, Assert.Throws<TrialRuleException>(() => dose.Infuse(Now, new())).Reason);
        dose.VerifyAtBedside(Nurse, Now);
        Assert.Null(dose.Infuse(Now, new()));
        Assert.Equal(DoseState.Infused, dose.State);
        Assert.Equal(RefusalReason.DoseStateNotAllowed, Assert.Throws<TrialRuleException>(() => dose.Destroy("x", Preparer, Now)).Reason);
    }

    [Fact]
    public void Bedside_NamesTheFirstProblem_AndNeverTheContents()
    {
        var notChecked = Cells();
        var dispatched = Dispatched(Placebo());
        var handling = new DoseHandlingDefinition();

        Assert.Equal(RefusalReason.DoseWrongParticipant, dispatched.BedsideProblem("P-1", Now, handling)!.Reason);
        Assert.Equal(RefusalReason.DoseNotReleased, notChecked.BedsideProblem("P-1", Now, handling)!.Reason);
        Assert.Equal(RefusalReason.InfusionWindowExpired, dispatched.BedsideProblem("P-2", Now.AddHours(4), handling)!.Reason);
        Assert.Null(dispatched.BedsideProblem("P-2", Now, handling));
        foreach (var refusal in new[] { dispatched.BedsideProblem("P-1", Now, handling)!, notChecked.BedsideProblem("P-1", Now, handling)! })
        {
            Assert.DoesNotContain("placebo", refusal.Message, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("cell", refusal.Message, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void PastTheWindow_RecordingDeviations_AcceptsAndRecordsBoth_RefusingRefuses()
    {
        var recording = new DoseHandlingDefinition { PastWindow = PastWindowRule.RecordDeviation };
        var late = Dispatched(Cells(recording));
        Assert.Null(late.BedsideProblem("P-1", Now.AddHours(5), recording));
        late.VerifyAtBedside(Nurse, Now.AddHours(5));
        var deviation = late.Infuse(Now.AddHours(5), recording);

        Assert.NotNull(deviation);
        Assert.Contains("verified at the bedside", late.Deviation, StringComparison.Ordinal);
        Assert.Contains("infusion started", late.Deviation, StringComparison.Ordinal);

        var refusing = Dispatched(Cells());
        refusing.VerifyAtBedside(Nurse, Now);
        Assert.Equal(RefusalReason.InfusionWindowExpired, Assert.Throws<TrialRuleException>(() => refusing.Infuse(Now.AddHours(5), new())).Reason);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2881)]
    public void TrialDefinition_WindowOutOfRange_IsAProblem(int minutes) =>
        Assert.NotEmpty(new DoseHandlingDefinition { ThawToInfusionMinutes = minutes }.Validate());
}
