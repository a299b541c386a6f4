namespace Cratus.Randomization.Domain.Tests;

/// <summary>One participant for both phases: its rules, without a database.</summary>
public sealed class ParticipantTests
{
    private static readonly DateTimeOffset Enrolled = new(2026, 11, 20, 9, 30, 15, 250, TimeSpan.Zero);
    private static readonly Actor Coordinator = new("coordinator", "site_coordinator");
    private static readonly Admitted Person = new("6f9619ff-8b86-d011-b42d-00cf4fc964ff", "UM", "SCR-1",
        new EligibilitySnapshot(new DateOnly(2026, 11, 19), 70, Sex.Male, 5, 28));

    private static Participant InCohort() => Participant.EnrolInCohort("P-1", Person, 2, 3, "K-1", Enrolled, Coordinator);

    [Fact]
    public void EnrolInCohort_HoldsAPlace_AndIsEnrolled()
    {
        var p = InCohort();

        Assert.Equal((TrialPhase.DoseEscalation, ParticipantStatus.Enrolled, 2, 3), (p.Phase, p.Status, p.Cohort, p.Place));
        Assert.Null(p.Stratum);
        Assert.Equal(new CohortEnrolmentFacts("P-1", "UM", "SCR-1", 2, "K-1"), p.CohortFacts());
    }

    [Fact]
    public void Randomize_HoldsAnEntry_InWholeSeconds()
    {
        var p = Participant.Randomize("P-2", Person, "UM/M", 4, 17, "K-2", Enrolled, Coordinator);

        Assert.Equal((TrialPhase.Randomized, ParticipantStatus.Randomized, "UM/M", 4, 17L), (p.Phase, p.Status, p.Stratum, p.StratumSequence!.Value, p.ScheduleEntryId!.Value));
        Assert.Equal(0, p.EnrolledAt.Millisecond);
        Assert.Null(p.Cohort);
    }

    [Fact]
    public void RecordInfusion_Once_ThenTheSameAgainIsAccepted_AnotherTimeIsRefused()
    {
        var p = InCohort();
        var at = Enrolled.AddDays(1);

        var first = p.RecordInfusion(at, "pharmacist", at, safetyWindowDays: 30);
        var again = p.RecordInfusion(at, "pharmacist", at, safetyWindowDays: 30);
        var other = Assert.Throws<TrialRuleException>(() => p.RecordInfusion(at.AddHours(1), "pharmacist", at.AddHours(2), 30));

        Assert.True(first.Recorded);
        Assert.False(again.Recorded);
        Assert.Equal(at.AddDays(30), first.SafetyWindowClosesAt);
        Assert.Equal(ParticipantStatus.Infused, p.Status);
        Assert.Equal(RefusalReason.InfusionAlreadyRecorded, other.Reason);
    }

    [Theory]
    [InlineData(-1, "before the participant's enrolment")]
    [InlineData(10, "in the future")]
    public void RecordInfusion_BeforeEnrolmentOrInTheFuture_IsInvalid(int minutesFromNowOrEnrolment, string expected)
    {
        var p = InCohort();
        var at = minutesFromNowOrEnrolment < 0 ? Enrolled.AddMinutes(minutesFromNowOrEnrolment) : Enrolled.AddDays(1).AddMinutes(minutesFromNowOrEnrolment);

        var refusal = Assert.Throws<TrialRuleException>(() => p.RecordInfusion(at, "pharmacist", Enrolled.AddDays(1), 30));

        Assert.Equal(RefusalReason.RequestInvalid, refusal.Reason);
        Assert.Contains(expected, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Withdraw_BeforeInfusion_FreesThePlace_WhenTheTrialReplaces()
    {
        var replaced = InCohort();
        var kept = InCohort();

        Assert.True(replaced.Withdraw("moved away", Enrolled.AddDays(2), replaceWithdrawnBeforeInfusion: true));
        Assert.False(kept.Withdraw("moved away", Enrolled.AddDays(2), replaceWithdrawnBeforeInfusion: false));
        Assert.Null(replaced.Place);
        Assert.Equal(3, kept.Place);
        Assert.Equal(ParticipantStatus.Withdrawn, replaced.Status);
        Assert.Equal(RefusalReason.ParticipantWithdrawn, Assert.Throws<TrialRuleException>(() => replaced.Withdraw("again", Enrolled.AddDays(3), true)).Reason);
        Assert.Equal(RefusalReason.ParticipantWithdrawn,
            Assert.Throws<TrialRuleException>(() => replaced.RecordInfusion(Enrolled.AddDays(3), "pharmacist", Enrolled.AddDays(3), 30)).Reason);
    }

    [Fact]
    public void Withdraw_AfterInfusion_OrInPhaseTwo_NeverFreesAnything()
    {
        var infused = InCohort();
        infused.RecordInfusion(Enrolled.AddDays(1), "pharmacist", Enrolled.AddDays(1), 30);
        var randomized = Participant.Randomize("P-2", Person, "UM/M", 1, 5, "K-2", Enrolled, Coordinator);

        Assert.False(infused.Withdraw("adverse event", Enrolled.AddDays(2), true));
        Assert.False(randomized.Withdraw("moved away", Enrolled.AddDays(2), true));
        Assert.Equal(3, infused.Place);
        Assert.Equal(5L, randomized.ScheduleEntryId);
    }

    [Fact]
    public void Withdraw_WithoutAReason_IsInvalid()
    {
        Assert.Equal("reason", Assert.Single(Assert.Throws<TrialRuleException>(() => InCohort().Withdraw("  ", Enrolled, true)).Fields).Field);
    }

    [Fact]
    public void EmergencyUnblinding_KeepsTheFirst()
    {
        var p = Participant.Randomize("P-2", Person, "UM/M", 1, 5, "K-2", Enrolled, Coordinator);

        p.RecordEmergencyUnblinding("investigator-1", Enrolled.AddDays(1));
        p.RecordEmergencyUnblinding("investigator-2", Enrolled.AddDays(2));

        Assert.Equal(("investigator-1", Enrolled.AddDays(1)), (p.EmergencyUnblindedBy, p.EmergencyUnblindedAt!.Value));
        Assert.Throws<InvalidOperationException>(() => InCohort().RecordEmergencyUnblinding("investigator-1", Enrolled));
    }

    [Fact]
    public void Seal_IsSetOnce()
    {
        var p = InCohort();
        p.Seal("k1:abc");

        Assert.Throws<InvalidOperationException>(() => p.Seal("k1:def"));
        Assert.Equal("k1:abc", p.AllocationSeal);
    }
}
