namespace Cratus.Randomization.Domain.Tests;

/// <summary>Admission to either phase, from facts alone: no database, no host, no mock.</summary>
public sealed class AdmissionTests
{
    private static readonly DateOnly Today = new(2026, 11, 22);
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly TrialDefinition Trial = TestTrials.Cratus();
    private static readonly SiteState OpenSite = new("UM", true);

    private static IntakeRequest Request(int mmse = 28) => new("6f9619ff-8b86-d011-b42d-00cf4fc964ff", "UM", "SCR-1", new EligibilityData(
        new DateOnly(2026, 11, 20), new AgeEvidence.AgeAtConsent(70), Sex.Female, 5, mmse,
        Trial.Eligibility.ExclusionAttestations.ToDictionary(c => c.Code, _ => false)));

    private static EscalationState Escalation(params DsmbDecision[] decisions) =>
        DoseEscalationRules.Evaluate(Trial.DoseEscalation!, [], [], decisions, Now);

    private static AdmissionFacts Facts(ExistingParticipant? existing = null, SiteState? site = null, EscalationState? escalation = null,
        int randomized = 0, DateTimeOffset? finalUnblinding = null) =>
        new(existing, site ?? OpenSite, escalation ?? Escalation(), randomized, finalUnblinding);

    [Fact]
    public void ToCohort_EligiblePersonAtAnOpenSite_IsAdmittedToCohortOne()
    {
        Assert.Empty(Admission.ToCohort(Trial, Request(), Facts(), Today));
    }

    [Fact]
    public void ToRandomization_BeforePhaseOneIsComplete_IsRefusedUntilTheDsmbProceeds()
    {
        var refusals = Admission.ToRandomization(Trial, Request(), Facts(), Today);

        Assert.Equal([RefusalReason.RandomizedPhaseNotOpen], refusals.Select(r => r.Reason));
    }

    [Fact]
    public void ToRandomization_EveryReasonIsReturned_PersonBeforeCapacity()
    {
        var stopped = Escalation(new DsmbDecision(DsmbDecisionKind.Stop, 1, Now.AddDays(-1), "dsmb", "futility"));
        var facts = Facts(new ExistingParticipant("P-1", TrialPhase.Randomized), new SiteState("UM", false), stopped, 30, Now.AddDays(-2));

        var refusals = Admission.ToRandomization(Trial, Request(mmse: 20), facts, Today);

        Assert.Equal(
            [RefusalReason.ParticipantAlreadyInTrial, RefusalReason.SiteClosed, RefusalReason.ParticipantIneligible, RefusalReason.TrialStopped,
             RefusalReason.RandomizationClosed, RefusalReason.TrialTargetReached],
            refusals.Select(r => r.Reason));
        Assert.Contains("already in the trial as participant P-1 (randomized)", refusals[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToRandomization_TrialWithoutPhaseOne_OnlyTargetAndClosingApply()
    {
        var trial = Trial with { DoseEscalation = null };

        Assert.Empty(Admission.ToRandomization(trial, Request(), Facts(escalation: null) with { Escalation = null }, Today));
        Assert.Equal([RefusalReason.TrialTargetReached],
            Admission.ToRandomization(trial, Request(), Facts(randomized: trial.RandomizedPhase.TargetParticipants) with { Escalation = null }, Today).Select(r => r.Reason));
    }

    [Fact]
    public void ToCohort_UnknownSite_NamesTheField()
    {
        var refusal = Assert.Single(Admission.ToCohort(Trial, Request(), Facts() with { Site = null }, Today));

        Assert.Equal(RefusalReason.SiteUnknown, refusal.Reason);
        Assert.Equal("site_code", Assert.Single(refusal.Fields!).Field);
    }

    [Fact]
    public void ToCohort_SafetyHold_IsRefusedWithTheHold()
    {
        var participants = new[] { new CohortParticipant("P-1", "UM", 1, Now.AddDays(-10), Now.AddDays(-9), null) };
        var events = new[] { new SafetyEvent("P-1", SafetyEventType.Stroke, Today.AddDays(-2), true, true, Now.AddDays(-1)) };
        var held = DoseEscalationRules.Evaluate(Trial.DoseEscalation!, participants, events, [], Now);

        var refusal = Assert.Single(Admission.ToCohort(Trial, Request(), Facts(escalation: held), Today));

        Assert.Equal(RefusalReason.EnrolmentOnSafetyHold, refusal.Reason);
    }

    [Fact]
    public void RequestProblem_IncompleteRequest_NamesEachField_ThenTheSiteNotServed()
    {
        var incomplete = Request() with { RequestId = "not-a-uuid", ScreeningId = "" };

        var invalid = Admission.RequestProblem(Trial, incomplete, new HashSet<string> { "UM" })!;
        var notServed = Admission.RequestProblem(Trial, Request(), new HashSet<string> { "JH" })!;

        Assert.Equal(RefusalReason.RequestInvalid, invalid.Reason);
        Assert.Equal(["request_id", "screening_id"], invalid.Fields!.Select(f => f.Field));
        Assert.Equal(RefusalReason.SiteNotServed, notServed.Reason);
        Assert.Null(Admission.RequestProblem(Trial, Request(), new HashSet<string> { "UM" }));
    }
}
