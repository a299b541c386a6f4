using Microsoft.EntityFrameworkCore;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.DoseEscalation;

public sealed record DsmbDecisionCommand(DsmbDecisionKind? Kind, string Reason, SignatureInput? Signature = null);

/// <summary>
/// Records a DSMB decision (escalate, continue, hold, stop, proceed), signed electronically for the current cohort, if
/// the escalation rules allow it now (<see cref="DoseEscalationRules.DecisionRefusal"/>).
/// </summary>
[Permitted(TrialRole.DsmbMember)]
public sealed partial class RecordDsmbDecision(
    TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, ElectronicSigning signing, GetEscalationStatus status,
    ILogger<RecordDsmbDecision> logger) : UseCase<DsmbDecisionCommand, EscalationReport>
{
    protected override async Task<EscalationReport> ExecuteAsync(Caller caller, DsmbDecisionCommand command, CancellationToken ct)
    {
        if (command.Kind is not { } kind || !Enum.IsDefined(kind))
            throw TrialRuleException.Invalid("decision", "decision is required: escalate, continue, hold, stop or proceed to the randomized phase.");
        var definition = DoseEscalationPhase.Of(trial);
        var reason = Reasons.Require(command.Reason);
        ElectronicSigning.Require(command.Signature);
        await db.InTransactionAsync(async t =>
        {
            var state = (await participants.EscalationAsync(t))!.State;
            var pending = await signing.RedeemAsync(caller, command.Signature, SignedAction.DsmbDecision,
                state.CurrentCohort.ToString(System.Globalization.CultureInfo.InvariantCulture), t);
            if (DoseEscalationRules.DecisionRefusal(definition, state, kind, clock.GetUtcNow()) is { } refusal)
                throw refusal.ToException();
            var decision = new DsmbDecisionRecord
            {
                Kind = kind,
                Cohort = state.CurrentCohort,
                DecidedAt = clock.GetUtcNow(),
                DecidedBy = caller.Subject,
                Reason = reason,
            };
            db.DsmbDecisions.Add(decision);
            await signing.AppendSignedAsync(pending,
                SignedActions.Content(decision.Kind, decision.Cohort, decision.DecidedAt, decision.DecidedBy, decision.Reason),
                AuditActor.From(caller), AuditActions.DsmbDecision, $"cohort {state.CurrentCohort}", t, reason: reason, details: kind.ToString());
            return 0;
        }, ct);
        db.AfterCommit(() => LogDecision(logger, kind, caller.Subject));
        return await status.ReportAsync(caller, ct);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "DSMB decision {Decision} recorded by {Subject}")]
    private static partial void LogDecision(ILogger logger, DsmbDecisionKind decision, string subject);
}

/// <summary>Where the dose escalation stands (the cohort table, what blocks the next step); another site's participant
/// ids are left out, and the doses too for a person blinded to the arms once the randomized phase has begun.</summary>
[Permitted(AnyoneSignedIn = true)]
public sealed class GetEscalationStatus(TrialDefinition trial, ParticipantStore participants, TrialDbContext db) : UseCase<Unit, EscalationReport>
{
    protected override Task<EscalationReport> ExecuteAsync(Caller caller, Unit command, CancellationToken ct) => ReportAsync(caller, ct);

    internal async Task<EscalationReport> ReportAsync(Caller caller, CancellationToken ct)
    {
        DoseEscalationPhase.Of(trial);
        var facts = (await participants.EscalationAsync(ct))!;
        var cohortOf = facts.Participants.ToDictionary(p => p.ParticipantId, p => p);
        var signatures = await db.Signatures.AsNoTracking().Where(s => s.Action == SignedAction.DsmbDecision).ToListAsync(ct);
        var dosesShown = EscalationState.DosesShown(TrialRoles.IsBlindedToArms(caller.Role), await participants.RandomizedPhaseBegunAsync(facts.State, ct));
        return new EscalationReport(dosesShown ? facts.State : facts.State.WithoutDoses(),
            facts.Events.Select(e => (e, cohortOf[e.ParticipantId].Cohort, caller.MaySee(cohortOf[e.ParticipantId].SiteCode))).ToList(),
            facts.Decisions.Select(d => (d, SignatureOf(d, signatures))).ToList(), dosesShown);
    }

    /// <summary>
    /// A decision's signature: the one whose digest is that of this decision's content (as RecordDsmbDecision signed
    /// it), so the link is exact even with several decisions on one cohort, and an altered decision shows none.
    /// </summary>
    private static SignatureView? SignatureOf(DsmbDecision decision, IEnumerable<SignatureRecord> signatures)
    {
        var recordId = decision.Cohort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var content = SignedActions.Content(decision.Kind, decision.Cohort, decision.DecidedAt, decision.DecidedBy, decision.Reason);
        return signatures.Where(s => s.RecordId == recordId && s.Manifestation.DigestOf(s.Action, s.RecordId, content) == s.RecordSha256)
            .Select(SignatureView.Of).FirstOrDefault();
    }
}
