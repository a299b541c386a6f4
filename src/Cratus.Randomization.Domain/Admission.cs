namespace Cratus.Randomization.Domain;

/// <summary>What a site asks for to enrol (Phase I) or randomize (Phase II) a person.</summary>
public sealed record IntakeRequest(string RequestId, string SiteCode, string ScreeningId, EligibilityData Eligibility);

/// <summary>A site as the trial holds it now (administrators add and close sites while the trial runs).</summary>
public sealed record SiteState(string Code, bool Active);

/// <summary>A person already in the trial, in either phase.</summary>
public sealed record ExistingParticipant(string ParticipantId, TrialPhase Phase);

/// <summary>
/// The stored facts admission depends on, read in the transaction that admits: the person (already in the trial?),
/// the site, and the state of the phases.
/// </summary>
public sealed record AdmissionFacts(
    ExistingParticipant? AlreadyInTrial,
    SiteState? Site,
    EscalationState? Escalation,
    int Randomized,
    DateTimeOffset? FinalUnblindingApprovedAt);

/// <summary>
/// The one place that decides whether a person may enter the trial now (DOMAIN.md: "Eligibility", "Phase I",
/// "Phase II"), for both phases: a complete request from a caller who serves the site, a person not already in the
/// trial, an open site of the trial, the eligibility criteria, then the phase's own gates (the open cohort and the
/// safety hold in Phase I; the DSMB's decision to proceed, the final unblinding and the target in Phase II). Every
/// reason for refusal is returned, most decisive first: who the person is comes before capacity, so a person already
/// in the trial hears that rather than "cohort full".
/// </summary>
public static class Admission
{
    /// <summary>Fields missing or malformed in the request; checked before anything is read.</summary>
    public static Refusal? RequestProblem(TrialDefinition trial, IntakeRequest request, IReadOnlySet<string> callerSites)
    {
        var problems = new List<FieldViolation>();
        if (!Identifiers.IsValidRequestId(request.RequestId))
            problems.Add(new("request_id", "request_id must be a UUID chosen by the client (send the same one to retry)"));
        if (!Identifiers.IsValidCode(request.SiteCode))
            problems.Add(new("site_code", "site_code must be a site code of this trial (see GetTrial)"));
        if (!Identifiers.IsValidScreeningId(request.ScreeningId))
            problems.Add(new("screening_id", "screening_id must be 1 to 32 letters, digits, '-' or '_' (no names or dates)"));
        problems.AddRange(EligibilityCheck.FindMissingData(trial.Eligibility, request.Eligibility));
        if (problems.Count > 0)
            return new Refusal(RefusalReason.RequestInvalid, $"The request is incomplete: {string.Join("; ", problems.Select(p => p.Description))}.", problems);
        return callerSites.Contains(request.SiteCode) ? null
            : new Refusal(RefusalReason.SiteNotServed, $"You are not registered at site {request.SiteCode}.");
    }

    /// <summary>Every reason <paramref name="request"/> may not take a place in the open Phase I cohort now.</summary>
    public static IReadOnlyList<Refusal> ToCohort(TrialDefinition trial, IntakeRequest request, AdmissionFacts facts, DateOnly today)
    {
        var refusals = PersonAndSite(trial, request, facts, today);
        if (trial.DoseEscalation is null || facts.Escalation is null)
            refusals.Add(new Refusal(RefusalReason.NoDoseEscalationPhase, "This trial has no dose-escalation phase."));
        else if (facts.Escalation.EnrolmentRefusal is { } closed)
            refusals.Add(closed);
        return refusals;
    }

    /// <summary>Every reason <paramref name="request"/> may not be randomized now (the schedule itself is not asked: that is allocation).</summary>
    public static IReadOnlyList<Refusal> ToRandomization(TrialDefinition trial, IntakeRequest request, AdmissionFacts facts, DateOnly today)
    {
        var refusals = PersonAndSite(trial, request, facts, today);
        if (PhaseGate(trial, facts.Escalation) is { } gate) refusals.Add(gate);
        if (facts.FinalUnblindingApprovedAt is { } closedAt)
            refusals.Add(new Refusal(RefusalReason.RandomizationClosed,
                $"Randomization is closed for good: the final unblinding was approved on {closedAt:yyyy-MM-dd}."));
        if (facts.Randomized >= trial.RandomizedPhase.TargetParticipants)
            refusals.Add(new Refusal(RefusalReason.TrialTargetReached,
                $"The trial has reached its target of {trial.RandomizedPhase.TargetParticipants} randomized participants; no more can be randomized."));
        return refusals;
    }

    /// <summary>
    /// Whether Phase I lets the randomized phase randomize: a stopped trial never does; otherwise, when the trial
    /// requires dose escalation first, only after the DSMB's decision to proceed and while no hold stands.
    /// </summary>
    public static Refusal? PhaseGate(TrialDefinition trial, EscalationState? escalation)
    {
        if (trial.DoseEscalation is null || escalation is null) return null;
        if (escalation.Stopped) return escalation.RandomizationRefusal;
        return trial.RandomizedPhase.RequiresDoseEscalationFirst ? escalation.RandomizationRefusal : null;
    }

    private static List<Refusal> PersonAndSite(TrialDefinition trial, IntakeRequest request, AdmissionFacts facts, DateOnly today)
    {
        var refusals = new List<Refusal>();
        if (facts.AlreadyInTrial is { } existing)
            refusals.Add(new Refusal(RefusalReason.ParticipantAlreadyInTrial,
                $"Participant {request.ScreeningId} at site {request.SiteCode} is already in the trial as participant {existing.ParticipantId} " +
                $"({(existing.Phase == TrialPhase.Randomized ? "randomized" : "enrolled in a dose-escalation cohort")}); a participant takes part once."));
        if (facts.Site is null)
            refusals.Add(new Refusal(RefusalReason.SiteUnknown, $"Site {request.SiteCode} is not a site of this trial.",
                [new FieldViolation("site_code", $"Site {request.SiteCode} is not a site of this trial.")]));
        else if (!facts.Site.Active)
            refusals.Add(new Refusal(RefusalReason.SiteClosed, $"Site {facts.Site.Code} is closed to enrolment. Contact the trial administrator."));
        var failures = EligibilityCheck.Evaluate(trial.Eligibility, request.Eligibility, today);
        if (failures.Count > 0) refusals.Add(EligibilityCheck.Refusal(request.ScreeningId, failures));
        return refusals;
    }
}
