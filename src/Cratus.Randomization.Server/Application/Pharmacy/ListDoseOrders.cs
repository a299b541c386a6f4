using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Pharmacy;

/// <summary>One page of the pharmacy's queue, oldest first.</summary>
public sealed record DoseOrdersPage(IReadOnlyList<PharmacyOrder> Orders, int Total, int Page, int PageSize);

/// <summary>
/// The pharmacy's queue: participants enrolled or randomized and not yet infused or withdrawn, oldest first, each with
/// what to prepare (arm, cells or placebo, dose), every allocation checked against its seal before any arm is opened.
/// Unblinded, so the read is an audited event like a single dose order's.
/// </summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class ListDoseOrders(TrialDbContext db, ParticipantStore participants, AuditedReads reads) : UseCase<ParticipantQuery, DoseOrdersPage>
{
    protected override async Task<DoseOrdersPage> ExecuteAsync(Caller caller, ParticipantQuery query, CancellationToken ct)
    {
        if (query.Page < 1) throw TrialRuleException.Invalid("page", "page must be 1 or more.");
        if (query.PageSize is < 1 or > ParticipantQuery.MaxPageSize)
            throw TrialRuleException.Invalid("page_size", $"page_size must be between 1 and {ParticipantQuery.MaxPageSize}.");
        var awaiting = db.Participants.AsNoTracking()
            .Where(p => p.Status == ParticipantStatus.Enrolled || p.Status == ParticipantStatus.Randomized);
        if (!string.IsNullOrWhiteSpace(query.SiteCode)) awaiting = awaiting.Where(p => p.SiteCode == query.SiteCode);
        var total = await awaiting.CountAsync(ct);
        var page = await awaiting.OrderBy(p => p.Id).Skip((query.Page - 1) * query.PageSize).Take(query.PageSize).ToListAsync(ct);
        var randomizedIds = page.Where(p => p.Phase == TrialPhase.Randomized).Select(p => p.ParticipantId).ToList();
        var opened = (await participants.UnblindedAsync(db.Participants.Where(p => randomizedIds.Contains(p.ParticipantId)), ct))
            .ToDictionary(o => o.Assignment.ParticipantId, StringComparer.Ordinal);
        var orders = page.Select(p =>
        {
            if (opened.TryGetValue(p.ParticipantId, out var order))
                return new PharmacyOrder(order.Assignment, order.Arm.Code, 0, order.Arm.Treatment, order.Arm.CellCount, order.Arm.Placebo);
            var placement = participants.Placement(p);
            return new PharmacyOrder(new BlindedAssignment(placement.ParticipantId, placement.SiteCode, placement.ScreeningId, "", placement.ProductCode,
                placement.EnrolledAt, false), "", placement.Cohort, placement.Dose, placement.CellCount, false);
        }).ToList();
        await reads.RecordAsync(new AuditedRead(AuditActor.From(caller), AuditActions.DoseOrdersListed,
            orders.Count == 0 ? "none" : string.Join(' ', orders.Select(o => o.Assignment.ParticipantId)), query.SiteCode ?? ""), ct);
        return new DoseOrdersPage(orders, total, query.Page, query.PageSize);
    }
}
