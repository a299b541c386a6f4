using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Participants;

/// <summary>One reported serious adverse event as any reader of the safety listing sees it: never an arm or a dose.</summary>
public sealed record SafetyEventRow(string ParticipantId, string SiteCode, TrialPhase Phase, SafetyEventType Type, DateOnly Onset, bool Serious,
    bool TreatmentEmergent, DateTimeOffset ReportedAt);

/// <summary>
/// Every serious adverse event reported, of both phases, oldest first, optionally of one phase: the DSMB's safety
/// review reads Phase II's here as it reads Phase I's on the escalation board. Site roles see their own sites' only.
/// Blinded: an event carries the participant, site, kind, dates and flags, never an arm.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem, TrialRole.DsmbMember, TrialRole.Monitor, TrialRole.Statistician)]
public sealed class ListSafetyEvents(TrialDbContext db) : UseCase<TrialPhase?, IReadOnlyList<SafetyEventRow>>
{
    protected override async Task<IReadOnlyList<SafetyEventRow>> ExecuteAsync(Caller caller, TrialPhase? phase, CancellationToken ct)
    {
        var rows = from e in db.SafetyEvents.AsNoTracking()
                   join p in db.Participants.AsNoTracking() on e.ParticipantId equals p.ParticipantId
                   select new { e, p.SiteCode, p.Phase };
        if (TrialRoles.IsSiteRole(caller.Role))
        {
            var sites = caller.Sites.ToList();
            rows = rows.Where(r => sites.Contains(r.SiteCode));
        }
        if (phase is { } only) rows = rows.Where(r => r.Phase == only);
        return await rows.OrderBy(r => r.e.Id)
            .Select(r => new SafetyEventRow(r.e.ParticipantId, r.SiteCode, r.Phase, r.e.Type, r.e.Onset, r.e.Serious, r.e.TreatmentEmergent, r.e.ReportedAt))
            .ToListAsync(ct);
    }
}
