using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Pharmacy;

/// <summary>
/// The pharmacy's unblinded read of what to prepare: a randomized participant's arm, or a Phase I participant's cohort
/// dose. Every read is an audited event, durable before the answer leaves.
/// </summary>
[Permitted(TrialRole.Pharmacist)]
public sealed partial class ReadDoseOrder(TrialDefinition trial, ParticipantStore participants, AuditedReads reads, ILogger<ReadDoseOrder> logger)
    : UseCase<string, PharmacyOrder>
{
    protected override async Task<PharmacyOrder> ExecuteAsync(Caller caller, string participantId, CancellationToken ct)
    {
        if (!Identifiers.IsValidParticipantId(participantId)) throw RandomizedParticipant.InvalidId();
        var order = await OrderAsync(participantId, ct);
        if (order is null || !caller.MaySee(order.Assignment.SiteCode)) throw RandomizedParticipant.NotVisible(participantId);
        await reads.RecordAsync(new AuditedRead(AuditActor.From(caller), AuditActions.DoseOrderRead, order.Assignment.ParticipantId, order.Assignment.SiteCode), ct);
        LogDoseOrderRead(logger, order.Assignment.ParticipantId, caller.Subject);
        return order;
    }

    /// <summary>The dose order of <paramref name="participantId"/> (unblinded, not audited: the caller audits its own use), or null.</summary>
    internal async Task<PharmacyOrder?> OrderAsync(string participantId, CancellationToken ct)
    {
        var randomized = await participants.UnblindedAsync(participants.Query(participantId), ct);
        if (randomized.Count == 1)
        {
            var (assignment, arm) = (randomized[0].Assignment, randomized[0].Arm);
            return new PharmacyOrder(assignment, arm.Code, 0, arm.Treatment, arm.CellCount, arm.Placebo);
        }
        if (trial.DoseEscalation is null || await participants.FindAsync(participantId, ct) is not { Phase: TrialPhase.DoseEscalation } enrolled) return null;
        var placement = participants.Placement(enrolled);
        return new PharmacyOrder(
            new BlindedAssignment(placement.ParticipantId, placement.SiteCode, placement.ScreeningId, "", placement.ProductCode, placement.EnrolledAt, false),
            "", placement.Cohort, placement.Dose, placement.CellCount, false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Dose order of participant {ParticipantId} read by {Subject}")]
    private static partial void LogDoseOrderRead(ILogger logger, string participantId, string subject);
}
