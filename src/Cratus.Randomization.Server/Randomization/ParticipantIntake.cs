using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Randomization;

/// <summary>What a site sends to enrol or randomize a participant.</summary>
public sealed record IntakeRequest(string RequestId, string SiteCode, string ScreeningId, EligibilityData Eligibility);

/// <summary>
/// The checks every new participant passes, in Phase I and Phase II alike: a well-formed, complete request; a site
/// the caller serves and that is open; the eligibility rules; and a person not already in the trial in either phase.
/// </summary>
public sealed partial class ParticipantIntake(TrialDbContext db, TrialDefinition trial, TimeProvider clock, ILogger<ParticipantIntake> logger)
{
    /// <summary>A complete, well-formed request from a caller who serves the site. Comes first, before a retry is answered.</summary>
    public void Validate(Caller caller, IntakeRequest request)
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
            throw new TrialRuleException(RefusalReason.RequestInvalid,
                $"The request is incomplete: {string.Join("; ", problems.Select(p => p.Description))}.", problems);

        if (!caller.Serves(request.SiteCode))
            throw new TrialRuleException(RefusalReason.SiteNotServed, $"You are not registered at site {request.SiteCode}.");
    }

    /// <summary>An open site of the trial and an eligible participant; returns the eligibility snapshot to keep.</summary>
    public async Task<EligibilitySnapshot> CheckSiteAndEligibilityAsync(IntakeRequest request, CancellationToken ct)
    {
        var site = await db.Sites.AsNoTracking().SingleOrDefaultAsync(s => s.Code == request.SiteCode, ct)
            ?? throw new TrialRuleException(RefusalReason.SiteUnknown, $"Site {request.SiteCode} is not a site of this trial.",
                [new FieldViolation("site_code", $"Site {request.SiteCode} is not a site of this trial.")]);
        if (!site.Active)
            throw new TrialRuleException(RefusalReason.SiteClosed, $"Site {site.Code} is closed to enrolment. Contact the trial administrator.");

        var failures = EligibilityCheck.Evaluate(trial.Eligibility, request.Eligibility, trial.Today(clock));
        if (failures.Count > 0)
        {
            LogIneligible(logger, request.ScreeningId, request.SiteCode, failures.Count);
            throw EligibilityCheck.Refuse(request.ScreeningId, failures);
        }
        return EligibilityCheck.Snapshot(request.Eligibility);
    }

    /// <summary>Refuses a person already enrolled in Phase I or randomized in Phase II (a participant takes part once).</summary>
    public async Task RefuseIfAlreadyInTheTrialAsync(IntakeRequest request, CancellationToken ct)
    {
        var randomized = await db.Participants.Where(p => p.SiteCode == request.SiteCode && p.ScreeningId == request.ScreeningId)
            .Select(p => p.ParticipantId).FirstOrDefaultAsync(ct);
        var enrolled = await db.CohortEnrolments.Where(p => p.SiteCode == request.SiteCode && p.ScreeningId == request.ScreeningId)
            .Select(p => p.ParticipantId).FirstOrDefaultAsync(ct);
        if ((randomized ?? enrolled) is { } existing)
            throw new TrialRuleException(RefusalReason.ParticipantAlreadyInTrial,
                $"Participant {request.ScreeningId} at site {request.SiteCode} is already in the trial as participant {existing} " +
                $"({(randomized is not null ? "randomized" : "enrolled in a dose-escalation cohort")}); a participant takes part once.");
    }

    /// <summary>
    /// Runs <paramref name="admission"/>; if it refuses (site closed, ineligible, cohort full, trial target reached,
    /// randomization closed, ...), a person already in the trial hears ALREADY_EXISTS instead: identity comes before
    /// capacity. The look-up runs only on the refusal path, so admitting a new participant costs nothing more.
    /// </summary>
    public async Task<T> IdentityBeforeRefusalAsync<T>(IntakeRequest request, Func<Task<T>> admission, CancellationToken ct)
    {
        try
        {
            return await admission();
        }
        catch (TrialRuleException refusal) when (refusal.Reason is not (RefusalReason.ParticipantAlreadyInTrial or RefusalReason.RequestIdReused))
        {
            await RefuseIfAlreadyInTheTrialAsync(request, ct);
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused screening id {ScreeningId} at site {SiteCode}: {FailedCriteria} eligibility criteria not met")]
    private static partial void LogIneligible(ILogger logger, string screeningId, string siteCode, int failedCriteria);
}
