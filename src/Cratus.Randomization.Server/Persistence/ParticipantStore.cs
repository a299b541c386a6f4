using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Persistence;

/// <summary>Phase I's stored facts and the state the escalation rules compute from them.</summary>
public sealed record EscalationFacts(
    IReadOnlyList<CohortParticipant> Participants, IReadOnlyList<SafetyEvent> Events, IReadOnlyList<DsmbDecision> Decisions, EscalationState State);

/// <summary>
/// The reads the use cases make of participants and their allocations, each allocation checked against its seal
/// before anyone sees it (a row edited in the database fails closed: DATA_LOSS and a security event), and arms opened
/// from the sealed schedule only for the unblinded reads that ask for them.
/// </summary>
public sealed class ParticipantStore(TrialDbContext db, TrialDefinition trial, TimeProvider clock, AllocationSeals seals, SecretBox secrets)
{
    /// <summary>A participant to change, tracked; null when there is none.</summary>
    public Task<Participant?> FindAsync(string participantId, CancellationToken ct) =>
        db.Participants.SingleOrDefaultAsync(p => p.ParticipantId == participantId, ct);

    /// <summary>One participant by id, to pass to <see cref="UnblindedAsync"/>.</summary>
    public IQueryable<Participant> Query(string participantId) => db.Participants.Where(p => p.ParticipantId == participantId);

    /// <summary>The facts <see cref="Admission"/> decides on, read in the admitting transaction.</summary>
    public async Task<AdmissionFacts> AdmissionFactsAsync(IntakeRequest request, TrialPhase phase, CancellationToken ct) =>
        (await TrialFactsAsync(request, phase, ct)) with { AlreadyInTrial = await AlreadyInTrialAsync(request, ct) };

    /// <summary>
    /// The facts <see cref="Admission"/> decides on, but the person's own record (<see cref="AlreadyInTrialAsync"/>):
    /// the site, Phase I, the trial's count and the final unblinding. Each is changed only by a write that holds the
    /// whole trial, so the trial lock (shared) keeps them settled; a randomization reads them before it locks its stratum.
    /// </summary>
    public async Task<AdmissionFacts> TrialFactsAsync(IntakeRequest request, TrialPhase phase, CancellationToken ct)
    {
        if (phase == TrialPhase.DoseEscalation)
        {
            var cohortSite = await SiteState.For(db)(db, request.SiteCode, ct);
            return new AdmissionFacts(null, cohortSite, (await EscalationAsync(ct))?.State, 0, null);
        }
        // The site, the count and the final unblinding in one statement; an unknown site (refused) reads the other two alone.
        var known = await SiteAndTrialState.For(db)(db, request.SiteCode, trial.TrialId, ct);
        var escalation = (await EscalationAsync(ct))?.State;
        return known is null
            ? new AdmissionFacts(null, null, escalation, await RandomizedCountAsync(ct) ?? 0, await FinalUnblindingApprovedAt.For(db)(db, ct))
            : new AdmissionFacts(null, new SiteState(known.Code, known.Active), escalation, known.Randomized ?? 0, known.FinalUnblindingApprovedAt);
    }

    /// <summary>The person's own record at the site, if they are in the trial already (by their screening id).</summary>
    public Task<ExistingParticipant?> AlreadyInTrialAsync(IntakeRequest request, CancellationToken ct) =>
        ExistingParticipant.For(db)(db, request.SiteCode, request.ScreeningId, ct);

    /// <summary>
    /// How many are randomized, as this transaction sees it now; not settled (another stratum may randomize beside it):
    /// the count a randomization decides on at its end is the one <see cref="Audit.AuditTrail.SettleTailAsync"/> reads
    /// under the audit tail. Null before the first randomization.
    /// </summary>
    public Task<int?> RandomizedCountAsync(CancellationToken ct) => RandomizedCount.For(db)(db, trial.TrialId, ct);

    /// <summary>
    /// Counts one more randomization on the trial's running totals, from <paramref name="settled"/>, the count read
    /// under the audit tail (null: none yet, and the totals row is added). Saved with the randomization.
    /// </summary>
    public void CountRandomization(int? settled)
    {
        if (db.TrialTotals.Local.FirstOrDefault(t => t.TrialId == trial.TrialId) is { } tracked) db.Entry(tracked).State = EntityState.Detached;
        if (settled is null)
        {
            db.TrialTotals.Add(new TrialTotalsRecord { TrialId = trial.TrialId, Randomized = 1 });
            return;
        }
        var totals = new TrialTotalsRecord { TrialId = trial.TrialId, Randomized = settled.Value };
        db.TrialTotals.Attach(totals);
        totals.Randomized++;
    }

    /// <summary>Whether the randomized phase has begun: the DSMB decided to proceed, or someone is randomized (with the
    /// Phase I gate lifted). From then on, Phase I doses are left out for the blinded (<see cref="EscalationState.DosesShown"/>).</summary>
    public async Task<bool> RandomizedPhaseBegunAsync(EscalationState state, CancellationToken ct) =>
        state.ProceededToRandomizedPhase || await RandomizedCountAsync(ct) > 0;

    /// <summary>Phase I's facts and state now; null when the trial has no dose-escalation phase.</summary>
    public async Task<EscalationFacts?> EscalationAsync(CancellationToken ct)
    {
        if (trial.DoseEscalation is not { } definition) return null;
        var participants = await db.Participants.AsNoTracking().Where(p => p.Phase == TrialPhase.DoseEscalation)
            .Select(p => new CohortParticipant(p.ParticipantId, p.SiteCode, p.Cohort!.Value, p.EnrolledAt, p.InfusedAt, p.WithdrawnAt)).ToListAsync(ct);
        // Phase I's events only: a Phase II event is the DSMB's to review and holds no cohort.
        var events = await db.SafetyEvents.AsNoTracking()
            .Where(e => db.Participants.Any(p => p.ParticipantId == e.ParticipantId && p.Phase == TrialPhase.DoseEscalation)).OrderBy(e => e.Id)
            .Select(e => new SafetyEvent(e.ParticipantId, e.Type, e.Onset, e.Serious, e.TreatmentEmergent, e.ReportedAt)).ToListAsync(ct);
        var decisions = await db.DsmbDecisions.AsNoTracking().OrderBy(d => d.Id)
            .Select(d => new DsmbDecision(d.Kind, d.Cohort, d.DecidedAt, d.DecidedBy, d.Reason)).ToListAsync(ct);
        return new EscalationFacts(participants, events, decisions, DoseEscalationRules.Evaluate(definition, participants, events, decisions, clock.GetUtcNow()));
    }

    /// <summary>
    /// A Phase II participant's blinded assignment, or null when there is none or <paramref name="caller"/> may not see
    /// it: another site's participant is NOT_FOUND before its seal is checked, so a tampered row elsewhere does not
    /// reveal that it exists.
    /// </summary>
    public async Task<BlindedAssignment?> AssignmentAsync(Caller caller, string participantId, CancellationToken ct)
    {
        var stored = await AssignmentByParticipantId.For(db)(db, participantId, ct);
        return stored is null || !caller.MaySee(stored.Assignment.SiteCode) ? null : Verified(stored);
    }

    /// <summary>A Phase I participant's placement with the dose its cohort gives, checked against its seal.</summary>
    public CohortAssignment Placement(Participant p)
    {
        // The dose shown follows the cohort: a cohort edited in the database must not show (or prepare) another dose.
        seals.Verify(p.CohortFacts(), p.AllocationSeal);
        var cohort = trial.DoseEscalation!.Cohorts[p.Cohort!.Value - 1];
        return new CohortAssignment(p.ParticipantId, p.SiteCode, p.ScreeningId, cohort.Number, cohort.Dose, cohort.CellCount, p.ProductCode, p.EnrolledAt);
    }

    /// <summary>Participants of Phase II with their arms opened from the sealed schedule, in randomization order. For unblinded callers only.</summary>
    public async Task<IReadOnlyList<DoseOrder>> UnblindedAsync(IQueryable<Participant> participants, CancellationToken ct)
    {
        var rows = await StoredAsync(participants, ct);
        // Every allocation is checked before any arm is opened: one that fails refuses the whole read.
        foreach (var r in rows) Verified(r);
        return [.. rows.Select(r => new DoseOrder(r.Assignment, OpenArm(r.ArmSealed, r.EntryStratum, r.EntrySequence)))];
    }

    /// <summary>Participants of Phase II with their blinded assignments, each checked against its seal, in randomization order; no arm is opened.</summary>
    public async Task<IReadOnlyList<BlindedAssignment>> BlindedAsync(IQueryable<Participant> participants, CancellationToken ct) =>
        [.. (await StoredAsync(participants, ct)).Select(Verified)];

    private async Task<List<StoredAssignment>> StoredAsync(IQueryable<Participant> participants, CancellationToken ct) =>
        await (
                from p in participants.AsNoTracking()
                join e in db.ScheduleEntries on p.ScheduleEntryId equals e.Id
                orderby p.Id
                select new StoredAssignment(
                    new BlindedAssignment(p.ParticipantId, p.SiteCode, p.ScreeningId, e.RandomizationNumber, p.ProductCode, p.EnrolledAt, p.EmergencyUnblindedAt != null),
                    p.Stratum!, p.StratumSequence!.Value, e.Id, e.Stratum, e.Sequence, e.ArmSealed, p.AllocationSeal))
            .ToListAsync(ct);

    /// <summary>Randomized participants per site. Never broken down by arm.</summary>
    public async Task<IReadOnlyDictionary<string, int>> RandomizedBySiteAsync(CancellationToken ct) =>
        await db.Participants.Where(p => p.Phase == TrialPhase.Randomized).GroupBy(p => p.SiteCode).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.Key, x => x.Count, StringComparer.Ordinal, ct);

    private ArmDefinition OpenArm(string sealedArm, string stratum, int sequence) =>
        trial.RandomizedPhase.FindArm(secrets.Open(sealedArm, SecretBox.ArmContext(stratum, sequence)))
        ?? throw new InvalidOperationException("the schedule holds an arm the trial definition does not know");

    /// <summary>A stored assignment with what binds it to its entry, checked before anyone sees it.</summary>
    private sealed record StoredAssignment(BlindedAssignment Assignment, string Stratum, int StratumSequence, long EntryId,
        string EntryStratum, int EntrySequence, string ArmSealed, string Seal);

    /// <summary>The assignment, once its seal is checked; fails closed (DATA_LOSS, a security event) when it is not as sealed.</summary>
    private BlindedAssignment Verified(StoredAssignment stored)
    {
        var a = stored.Assignment;
        seals.Verify(new ParticipantAllocationFacts(a.ParticipantId, a.SiteCode, a.ScreeningId, stored.Stratum, stored.StratumSequence, a.ProductCode,
            stored.EntryId, stored.EntryStratum, stored.EntrySequence, a.RandomizationNumber, stored.ArmSealed), stored.Seal);
        return a;
    }

    private static readonly CompiledQuery<Func<TrialDbContext, string, CancellationToken, Task<StoredAssignment?>>> AssignmentByParticipantId =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, string participantId, CancellationToken ct) =>
            (from p in db.Participants.AsNoTracking()
             join e in db.ScheduleEntries on p.ScheduleEntryId equals e.Id
             where p.ParticipantId == participantId
             select new StoredAssignment(
                 new BlindedAssignment(p.ParticipantId, p.SiteCode, p.ScreeningId, e.RandomizationNumber, p.ProductCode, p.EnrolledAt, p.EmergencyUnblindedAt != null),
                 p.Stratum!, p.StratumSequence!.Value, e.Id, e.Stratum, e.Sequence, e.ArmSealed, p.AllocationSeal))
            .SingleOrDefault()));

    private static readonly CompiledQuery<Func<TrialDbContext, string, string, CancellationToken, Task<ExistingParticipant?>>> ExistingParticipant =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, string site, string screeningId, CancellationToken ct) =>
            db.Participants.AsNoTracking().Where(p => p.SiteCode == site && p.ScreeningId == screeningId)
                .Select(p => new ExistingParticipant(p.ParticipantId, p.Phase)).SingleOrDefault()));

    private static readonly CompiledQuery<Func<TrialDbContext, string, CancellationToken, Task<SiteState?>>> SiteState =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, string code, CancellationToken ct) =>
            db.Sites.AsNoTracking().Where(s => s.Code == code).Select(s => new SiteState(s.Code, s.Active)).SingleOrDefault()));

    private static readonly CompiledQuery<Func<TrialDbContext, string, CancellationToken, Task<int?>>> RandomizedCount =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, string trialId, CancellationToken ct) =>
            db.TrialTotals.AsNoTracking().Where(t => t.TrialId == trialId).Select(t => (int?)t.Randomized).FirstOrDefault()));

    private sealed record SiteAndTrial(string Code, bool Active, int? Randomized, DateTimeOffset? FinalUnblindingApprovedAt);

    private static readonly CompiledQuery<Func<TrialDbContext, string, string, CancellationToken, Task<SiteAndTrial?>>> SiteAndTrialState =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, string code, string trialId, CancellationToken ct) =>
            db.Sites.AsNoTracking().Where(s => s.Code == code)
                .Select(s => new SiteAndTrial(s.Code, s.Active,
                    db.TrialTotals.Where(t => t.TrialId == trialId).Select(t => (int?)t.Randomized).FirstOrDefault(),
                    db.UnblindingRequests.Where(r => r.Scope == UnblindingScope.Final && r.ApprovedAt != null).Select(r => r.ApprovedAt).FirstOrDefault()))
                .SingleOrDefault()));

    private static readonly CompiledQuery<Func<TrialDbContext, CancellationToken, Task<DateTimeOffset?>>> FinalUnblindingApprovedAt =
        new(() => EF.CompileAsyncQuery((TrialDbContext db, CancellationToken ct) =>
            db.UnblindingRequests.Where(r => r.Scope == UnblindingScope.Final && r.ApprovedAt != null).Select(r => r.ApprovedAt).FirstOrDefault()));
}
