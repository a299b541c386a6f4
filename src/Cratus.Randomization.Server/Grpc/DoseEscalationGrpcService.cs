using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.DoseEscalation;
using Cratus.Randomization.Server.Randomization;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Proto = Cratus.Randomization.Protos.V1;

namespace Cratus.Randomization.Server.Grpc;

public sealed class DoseEscalationGrpcService(DoseEscalator escalator) : Proto.DoseEscalationService.DoseEscalationServiceBase
{
    public override async Task<EnrollInCohortResponse> EnrollInCohort(EnrollInCohortRequest request, ServerCallContext context)
    {
        var a = await escalator.EnrollAsync(AccessInterceptor.CallerOf(context),
            new IntakeRequest(request.RequestId, request.SiteCode, request.ScreeningId, request.Eligibility.ToDomain()), context.CancellationToken);
        return new EnrollInCohortResponse
        {
            Assignment = new Proto.CohortAssignment
            {
                ParticipantId = a.ParticipantId, SiteCode = a.SiteCode, ScreeningId = a.ScreeningId, Cohort = a.Cohort, Dose = a.Dose,
                CellCount = a.CellCount, ProductCode = a.ProductCode, EnrolledAt = Timestamp.FromDateTimeOffset(a.EnrolledAt),
            },
        };
    }

    public override async Task<RecordInfusionResponse> RecordInfusion(RecordInfusionRequest request, ServerCallContext context)
    {
        var (infusedAt, closes) = await escalator.RecordInfusionAsync(AccessInterceptor.CallerOf(context), request.ParticipantId,
            ProtoMapping.ToTime(request.InfusedAt, "infused_at"), context.CancellationToken);
        return new RecordInfusionResponse
        {
            ParticipantId = request.ParticipantId,
            InfusedAt = Timestamp.FromDateTimeOffset(infusedAt),
            SafetyWindowClosesAt = Timestamp.FromDateTimeOffset(closes),
        };
    }

    public override async Task<ReportSafetyEventResponse> ReportSafetyEvent(ReportSafetyEventRequest request, ServerCallContext context)
    {
        var report = await escalator.ReportSafetyEventAsync(AccessInterceptor.CallerOf(context), request.ParticipantId,
            ToDomain(request.Type), ProtoMapping.ToDate(request.OnsetDate), request.Serious, context.CancellationToken);
        return new ReportSafetyEventResponse { TreatmentEmergent = report.TreatmentEmergent, EnrolmentOnHold = report.EnrolmentOnHold, Message = report.Message };
    }

    public override async Task<RecordWithdrawalResponse> RecordWithdrawal(RecordWithdrawalRequest request, ServerCallContext context) =>
        new() { PlaceFreed = await escalator.RecordWithdrawalAsync(AccessInterceptor.CallerOf(context), request.ParticipantId, request.Reason, context.CancellationToken) };

    public override async Task<RecordDsmbDecisionResponse> RecordDsmbDecision(RecordDsmbDecisionRequest request, ServerCallContext context)
    {
        var kind = request.Decision switch
        {
            Proto.DsmbDecisionKind.Escalate => Domain.DsmbDecisionKind.Escalate,
            Proto.DsmbDecisionKind.Continue => Domain.DsmbDecisionKind.Continue,
            Proto.DsmbDecisionKind.Hold => Domain.DsmbDecisionKind.Hold,
            Proto.DsmbDecisionKind.Stop => Domain.DsmbDecisionKind.Stop,
            Proto.DsmbDecisionKind.ProceedToRandomizedPhase => Domain.DsmbDecisionKind.ProceedToRandomizedPhase,
            _ => throw TrialRuleException.Invalid("decision", "decision is required: escalate, continue, hold, stop or proceed to the randomized phase."),
        };
        var report = await escalator.RecordDecisionAsync(AccessInterceptor.CallerOf(context), kind, request.Reason, context.CancellationToken);
        return new RecordDsmbDecisionResponse { Status = ToProto(report) };
    }

    public override async Task<GetEscalationStatusResponse> GetEscalationStatus(GetEscalationStatusRequest request, ServerCallContext context) =>
        new() { Status = ToProto(await escalator.ReportAsync(AccessInterceptor.CallerOf(context), context.CancellationToken)) };

    private static EscalationStatus ToProto(EscalationReport report)
    {
        var s = report.State;
        return new EscalationStatus
        {
            CurrentCohort = s.CurrentCohort,
            EnrolmentOpen = s.EnrolmentOpen,
            OnHold = s.OnHold,
            Stopped = s.Stopped,
            RandomizedPhaseOpen = s.ProceededToRandomizedPhase && !s.Stopped,
            Cohorts =
            {
                s.Cohorts.Select(c => new CohortProgress
                {
                    Cohort = c.Definition.Number, Dose = c.Definition.Dose, CellCount = c.Definition.CellCount, Places = c.Definition.Participants,
                    Enrolled = c.Enrolled, Infused = c.Infused, Withdrawn = c.Withdrawn,
                    Status = c.Status switch { CohortStatus.NotOpened => "not_opened", CohortStatus.Open => "open", CohortStatus.Full => "full", _ => "complete" },
                    WindowsCloseAt = { c.WindowsCloseAt.Select(Timestamp.FromDateTimeOffset) },
                }),
            },
            Blocking = { s.Blocking },
            NextStep = s.NextStep,
            SafetyEvents =
            {
                report.SafetyEvents.Select(e => new SafetyEventSummary
                {
                    ParticipantId = e.Visible ? e.Event.ParticipantId : "",
                    Cohort = e.Cohort,
                    Type = ToProto(e.Event.Type),
                    OnsetDate = new CalendarDate { Year = e.Event.Onset.Year, Month = e.Event.Onset.Month, Day = e.Event.Onset.Day },
                    Serious = e.Event.Serious,
                    TreatmentEmergent = e.Event.TreatmentEmergent,
                    ReportedAt = Timestamp.FromDateTimeOffset(e.Event.ReportedAt),
                }),
            },
            Decisions =
            {
                report.Decisions.Select(d => new DsmbDecisionSummary
                {
                    Decision = (Proto.DsmbDecisionKind)((int)d.Kind + 1),
                    Cohort = d.Cohort,
                    DecidedAt = Timestamp.FromDateTimeOffset(d.DecidedAt),
                    DecidedBy = d.DecidedBy,
                    Reason = d.Reason,
                }),
            },
        };
    }

    private static Domain.SafetyEventType? ToDomain(Proto.SafetyEventType type) =>
        type == Proto.SafetyEventType.Unspecified || !System.Enum.IsDefined(type) ? null : (Domain.SafetyEventType)((int)type - 1);

    private static Proto.SafetyEventType ToProto(Domain.SafetyEventType type) => (Proto.SafetyEventType)((int)type + 1);
}
