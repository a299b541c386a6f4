using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Pharmacy;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>The pharmacy's prepared doses: preparation, the two-person check, the label, dispatch, return and destruction.</summary>
public sealed partial class PharmacyGrpcService
{
    [Runs(typeof(RecordPreparation))]
    public override async Task<RecordPreparationResponse> RecordPreparation(RecordPreparationRequest request, ServerCallContext context)
    {
        var measurements = request.Measurements is { } m ? new MeasurementsInput(m.PostThawCellCount, m.PostThawViabilityPercent, m.FinalCells, m.VolumeMl) : null;
        var view = await Use<RecordPreparation>(context).RunAsync(AccessInterceptor.CallerOf(context),
            new RecordPreparationCommand(request.ParticipantId, [.. request.UnitIds], request.PreparationStartedAt.ToInput(), measurements,
                request.Signature.ToInput()), context.CancellationToken);
        return new RecordPreparationResponse { Dose = ToProto(view) };
    }

    [Runs(typeof(VerifyPreparation))]
    public override async Task<VerifyPreparationResponse> VerifyPreparation(VerifyPreparationRequest request, ServerCallContext context)
    {
        var view = await Use<VerifyPreparation>(context).RunAsync(AccessInterceptor.CallerOf(context),
            new VerifyPreparationCommand(request.ProductId, request.Signature.ToInput()), context.CancellationToken);
        return new VerifyPreparationResponse { Dose = ToProto(view) };
    }

    [Runs(typeof(ReadPreparation))]
    public override async Task<GetPreparationResponse> GetPreparation(GetPreparationRequest request, ServerCallContext context)
    {
        var view = await Use<ReadPreparation>(context).RunAsync(AccessInterceptor.CallerOf(context), request.ParticipantId, context.CancellationToken);
        return new GetPreparationResponse { Dose = ToProto(view) };
    }

    [Runs(typeof(ReadDoseLabel))]
    public override async Task<GetLabelResponse> GetLabel(GetLabelRequest request, ServerCallContext context)
    {
        var label = await Use<ReadDoseLabel>(context).RunAsync(AccessInterceptor.CallerOf(context), request.ProductId, context.CancellationToken);
        return new GetLabelResponse
        {
            Trial = label.Trial,
            ParticipantId = label.ParticipantId,
            RandomizationNumber = label.RandomizationNumber,
            ProductId = label.ProductId,
            UseBy = Timestamp.FromDateTimeOffset(label.UseBy),
            Storage = label.Storage,
            SiteCode = label.SiteCode,
            QrPng = ByteString.CopyFrom(label.QrPng),
            QrSvg = label.QrSvg,
            Lines = { label.Lines },
        };
    }

    [Runs(typeof(DispatchDose))]
    public override async Task<DispatchDoseResponse> DispatchDose(DispatchDoseRequest request, ServerCallContext context)
    {
        var view = await Use<DispatchDose>(context).RunAsync(AccessInterceptor.CallerOf(context),
            new DispatchDoseCommand(request.ProductId, request.Courier, request.DispatchedAt.ToInput()), context.CancellationToken);
        return new DispatchDoseResponse { Dose = ToProto(view) };
    }

    [Runs(typeof(ReturnDose))]
    public override async Task<ReturnDoseResponse> ReturnDose(ReturnDoseRequest request, ServerCallContext context)
    {
        var view = await Use<ReturnDose>(context).RunAsync(AccessInterceptor.CallerOf(context),
            new CloseDoseCommand(request.ProductId, request.Reason), context.CancellationToken);
        return new ReturnDoseResponse { Dose = ToProto(view) };
    }

    [Runs(typeof(DestroyDose))]
    public override async Task<DestroyDoseResponse> DestroyDose(DestroyDoseRequest request, ServerCallContext context)
    {
        var view = await Use<DestroyDose>(context).RunAsync(AccessInterceptor.CallerOf(context),
            new CloseDoseCommand(request.ProductId, request.Reason), context.CancellationToken);
        return new DestroyDoseResponse { Dose = ToProto(view) };
    }

    private static T Use<T>(ServerCallContext context) where T : notnull => context.GetHttpContext().RequestServices.GetRequiredService<T>();

    /// <summary>The unblinded view of a prepared dose (pharmacy only).</summary>
    public static PreparedDose ToProto(PreparedDoseView view)
    {
        var d = view.Dose;
        return new PreparedDose
        {
            ProductId = d.ProductId,
            ParticipantId = d.ParticipantId,
            SiteCode = d.SiteCode,
            State = (DoseState)(int)d.State,
            Placebo = view.Order.Placebo,
            RequiredCells = view.Order.CellCount,
            UnitIds = { d.UnitIds.Split(' ', StringSplitOptions.RemoveEmptyEntries) },
            Measurements = d.FinalCells is null ? null : new CellMeasurements
            {
                PostThawCellCount = d.PostThawCellCount ?? 0,
                PostThawViabilityPercent = d.PostThawViabilityPercent?.ToString(CultureInfo.InvariantCulture) ?? "",
                FinalCells = d.FinalCells ?? 0,
                VolumeMl = d.VolumeMilliliters?.ToString(CultureInfo.InvariantCulture) ?? "",
            },
            PreparationStartedAt = Timestamp.FromDateTimeOffset(d.PreparationStartedAt),
            UseBy = Timestamp.FromDateTimeOffset(d.UseBy),
            PreparedBy = d.PreparedBy,
            VerifiedBy = d.VerifiedBy ?? "",
            VerifiedAt = d.VerifiedAt.ToProto(),
            DispatchedAt = d.DispatchedAt.ToProto(),
            Courier = d.Courier ?? "",
            BedsideVerifiedAt = d.BedsideVerifiedAt.ToProto(),
            InfusedAt = d.InfusedAt.ToProto(),
            Deviation = d.Deviation ?? "",
            ClosedReason = d.ClosedReason ?? "",
            Signatures = { view.Signatures.Select(s => s.ToProto()) },
        };
    }
}
