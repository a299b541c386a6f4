using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Pharmacy;

/// <summary>One recorded event in a participant's history as the pharmacy sees it: what, when, by whom, and why.</summary>
public sealed record ParticipantHistoryEntry(DateTimeOffset At, string Action, string What, string User, string Role, string Reason);

/// <summary>
/// What happened to a participant whose dose the pharmacy prepares, from the audit trail: enrolled or randomized,
/// infused, withdrawn, emergency unblinded, and who read the dose order, each with who and when. The events carry
/// no arm (the trail never records one); the reader is the pharmacist, who may see the arm anyway.
/// </summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class ReadDoseOrderHistory(TrialDbContext db, ParticipantStore participants) : UseCase<string, IReadOnlyList<ParticipantHistoryEntry>>
{
    private static readonly Dictionary<string, string> Shown = new(StringComparer.Ordinal)
    {
        [AuditActions.EnrolledInCohort] = "Enrolled in cohort",
        [AuditActions.ParticipantRandomized] = "Randomized",
        [AuditActions.Infused] = "Infused",
        [AuditActions.Withdrawn] = "Withdrawn",
        [AuditActions.SafetyEventReported] = "Safety event reported",
        [AuditActions.EmergencyUnblinding] = "Emergency unblinded",
        [AuditActions.DoseOrderRead] = "Dose order read",
    };

    protected override async Task<IReadOnlyList<ParticipantHistoryEntry>> ExecuteAsync(Caller caller, string participantId, CancellationToken ct)
    {
        if (!Identifiers.IsValidParticipantId(participantId)) throw RandomizedParticipant.InvalidId();
        if (await participants.FindAsync(participantId, ct) is not { } participant || !caller.MaySee(participant.SiteCode))
            throw RandomizedParticipant.NotVisible(participantId);
        var actions = Shown.Keys.ToList();
        var events = await db.AuditEvents.AsNoTracking()
            .Where(e => e.Target == participantId && actions.Contains(e.Action))
            .OrderBy(e => e.Sequence).ToListAsync(ct);
        return [.. events.Select(e => new ParticipantHistoryEntry(DateTimeOffset.FromUnixTimeMilliseconds(e.OccurredAtUnixMilliseconds),
            e.Action, Shown[e.Action], e.User, e.Role, e.Reason))];
    }
}
