using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Participants;

/// <summary>Which participants to list: any of the filters, one page of them.</summary>
public sealed record ParticipantQuery(string? SiteCode = null, TrialPhase? Phase = null, ParticipantStatus? Status = null, string? Search = null,
    int Page = 1, int PageSize = 25, bool? RandomizedInError = null)
{
    public const int MaxPageSize = 100;
}

/// <summary>
/// One participant as a blinded listing shows them: Phase II by randomization number and product code, Phase I by
/// cohort (open label). Never an arm, a dose of Phase II, or anything that tells the arms apart.
/// </summary>
public sealed record ParticipantRow(string ParticipantId, string SiteCode, string ScreeningId, TrialPhase Phase, ParticipantStatus Status,
    string RandomizationNumber, int? Cohort, string ProductCode, DateTimeOffset EnrolledAt, DateTimeOffset? InfusedAt, bool EmergencyUnblinded,
    DateTimeOffset? WithdrawnAt = null, DateTimeOffset? EmergencyUnblindedAt = null, RandomizedInErrorType? RandomizedInError = null);

public sealed record ParticipantPage(IReadOnlyList<ParticipantRow> Rows, int Total, int Page, int PageSize);

/// <summary>
/// The blinded participant listing, filtered and paged in the database: a site's people see their own sites only
/// (another site named in the filter lists nothing, as if it had no one); monitors and statisticians see all.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem, TrialRole.Monitor, TrialRole.Statistician)]
public sealed class ListParticipants(TrialDbContext db) : UseCase<ParticipantQuery, ParticipantPage>
{
    protected override async Task<ParticipantPage> ExecuteAsync(Caller caller, ParticipantQuery query, CancellationToken ct)
    {
        if (query.Page < 1) throw TrialRuleException.Invalid("page", "page must be 1 or more.");
        if (query.PageSize is < 1 or > ParticipantQuery.MaxPageSize)
            throw TrialRuleException.Invalid("page_size", $"page_size must be between 1 and {ParticipantQuery.MaxPageSize}.");
        var participants = db.Participants.AsNoTracking();
        if (TrialRoles.IsSiteRole(caller.Role))
        {
            var sites = caller.Sites.ToList();
            participants = participants.Where(p => sites.Contains(p.SiteCode));
        }
        if (!string.IsNullOrWhiteSpace(query.SiteCode)) participants = participants.Where(p => p.SiteCode == query.SiteCode);
        if (query.Phase is { } phase) participants = participants.Where(p => p.Phase == phase);
        if (query.Status is { } status) participants = participants.Where(p => p.Status == status);
        if (query.RandomizedInError is { } marked) participants = participants.Where(p => (p.RandomizedInErrorAt != null) == marked);
        if (!string.IsNullOrWhiteSpace(query.Search))
        {
            var search = query.Search.Trim();
            participants = participants.Where(p => p.ParticipantId == search || p.ScreeningId == search || p.ProductCode == search
                || db.ScheduleEntries.Any(e => e.Id == p.ScheduleEntryId && e.RandomizationNumber == search));
        }
        var total = await participants.CountAsync(ct);
        var rows = await (
                from p in participants
                join e in db.ScheduleEntries on p.ScheduleEntryId equals e.Id into entries
                from e in entries.DefaultIfEmpty()
                orderby p.Id descending
                select new ParticipantRow(p.ParticipantId, p.SiteCode, p.ScreeningId, p.Phase, p.Status, e == null ? "" : e.RandomizationNumber,
                    p.Cohort, p.ProductCode, p.EnrolledAt, p.InfusedAt, p.EmergencyUnblindedAt != null, p.WithdrawnAt, p.EmergencyUnblindedAt,
                    p.RandomizedInErrorType))
            .Skip((query.Page - 1) * query.PageSize).Take(query.PageSize).ToListAsync(ct);
        return new ParticipantPage(rows, total, query.Page, query.PageSize);
    }
}
