using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Application.Pharmacy;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Infusion;

public sealed record BedsideCommand(string ProductId, string ParticipantId);

/// <summary>
/// The answer at the bedside: confirmed, or the refusal's reason and what to do. The same fields for every arm; the
/// use-by time is set only when the bag was prepared for this participant (so it never tells another participant's).
/// </summary>
public sealed record BedsideVerification(bool Confirmed, RefusalReason? Refusal, string Message, string ProductId, string ParticipantId,
    DateTimeOffset? UseBy, string Deviation, DateTimeOffset VerifiedAt);

/// <summary>
/// The site scans the bag's QR code (its product id) and the participant's identifier before the infusion. The bag is
/// confirmed when it was prepared for this participant, checked by two pharmacists and released, dispatched, its
/// product still released, and within its window (or past it with the trial recording deviations, never silently);
/// otherwise refused with the reason (<see cref="DosePreparation.BedsideProblem"/>). Either way the answer is audited in
/// its own transaction, and a refusal is announced to the pharmacy and the sponsor (NotificationComposer). Blinded:
/// the same work and the same reply whatever the arm; no message names cells, units or a placebo.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.SiteSystem)]
public sealed class VerifyAtBedside(TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, DoseUnits units, AuditTrail audit)
    : UseCase<BedsideCommand, BedsideVerification>
{
    protected override async Task<BedsideVerification> ExecuteAsync(Caller caller, BedsideCommand command, CancellationToken ct)
    {
        if (!DosePreparation.IsValidProductId(command.ProductId))
            throw TrialRuleException.Invalid("product_id", "product_id is required: scan the QR code on the bag (a product id such as CP-7K3M9Q2XWD).");
        return await db.InTransactionAsync(async t =>
        {
            var participant = await TrialParticipant.VisibleAsync(participants, caller, command.ParticipantId, t);
            var now = clock.GetUtcNow();
            var dose = await db.DosePreparations.SingleOrDefaultAsync(d => d.ProductId == command.ProductId, t);
            var refusal = dose is null
                ? new BedsideRefusal(RefusalReason.ProductNotFound, $"No bag with product id {command.ProductId} is known. Do not infuse it; call the pharmacy.")
                : dose.BedsideProblem(participant.ParticipantId, now, trial.DoseHandling);
            if (refusal is null && participant.WithdrawnAt is not null)
                refusal = new BedsideRefusal(RefusalReason.ParticipantWithdrawn, $"Participant {participant.ParticipantId} has withdrawn. Do not infuse; call the pharmacy.");
            var actor = AuditActor.From(caller);
            if (refusal is not null)
            {
                await audit.AppendAsync(actor, AuditActions.BedsideRefused, participant.ParticipantId, t, site: participant.SiteCode,
                    reason: refusal.Message, details: $"scanned product {command.ProductId}; refused: {refusal.Reason}");
                var ownBag = dose is not null && dose.ParticipantId == participant.ParticipantId;
                return new BedsideVerification(false, refusal.Reason, refusal.Message, command.ProductId, participant.ParticipantId,
                    ownBag ? dose!.UseBy : null, "", now);
            }
            dose!.VerifyAtBedside(caller.Actor, now);
            var deviation = now > dose.UseBy ? dose.Deviation ?? "" : "";
            var sequence = await audit.AppendAsync(actor, AuditActions.BedsideVerified, participant.ParticipantId, t, site: participant.SiteCode,
                details: deviation.Length == 0 ? $"product {dose.ProductId}" : $"product {dose.ProductId}; deviation: {deviation}");
            units.Record(dose, DoseEventKinds.VerifiedAtBedside, caller.Actor, now, deviation.Length == 0 ? "verified at the bedside" : $"verified at the bedside; deviation: {deviation}",
                "", sequence);
            return new BedsideVerification(true, null, $"Bag {dose.ProductId} is for participant {participant.ParticipantId}: verified. Start the infusion by {dose.UseBy.UtcDateTime:yyyy-MM-dd HH:mm} UTC.",
                dose.ProductId, participant.ParticipantId, dose.UseBy, deviation, now);
        }, ct);
    }
}
