using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Application.ChainOfCustody;
using Cratus.Randomization.Server.Application.Inventory;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Domain = Cratus.Randomization.Domain;
using Proto = Cratus.Randomization.Protos.V1;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>The door to the cell product's inventory: message in, use case, message out.</summary>
public sealed class InventoryGrpcService(
    RegisterLot register, ReleaseLot release, QuarantineLot quarantine, ReportExcursion excursion, ReturnUnit returnUnit, DestroyUnit destroy,
    ListLots list, GetLot get) : InventoryService.InventoryServiceBase
{
    [Runs(typeof(RegisterLot))]
    public override async Task<RegisterLotResponse> RegisterLot(RegisterLotRequest request, ServerCallContext context)
    {
        var command = new RegisterLotCommand(request.LotNumber, request.DonorCode, request.ProductCode, request.Expiry.ToInput(),
            request.Units.Select(u => new UnitInput(u.UnitId, u.CellsPerUnit, InventoryMapping.Percent(u.ViabilityPercent), u.StorageLocation, u.Expiry.ToInput())).ToList());
        return new() { Lot = (await register.RunAsync(AccessInterceptor.CallerOf(context), command, context.CancellationToken)).ToProto() };
    }

    [Runs(typeof(ReleaseLot))]
    public override async Task<ReleaseLotResponse> ReleaseLot(ReleaseLotRequest request, ServerCallContext context) => new()
    {
        Lot = (await release.RunAsync(AccessInterceptor.CallerOf(context),
            new ReleaseLotCommand(request.LotNumber, request.Exceptional, request.Justification, request.Signature.ToInput()), context.CancellationToken)).ToProto(),
    };

    [Runs(typeof(QuarantineLot))]
    public override async Task<QuarantineLotResponse> QuarantineLot(QuarantineLotRequest request, ServerCallContext context) => new()
    {
        Lot = (await quarantine.RunAsync(AccessInterceptor.CallerOf(context), new QuarantineLotCommand(request.LotNumber, request.Reason), context.CancellationToken)).ToProto(),
    };

    [Runs(typeof(ReportExcursion))]
    public override async Task<ReportExcursionResponse> ReportExcursion(ReportExcursionRequest request, ServerCallContext context)
    {
        Application.Inventory.ExcursionKind? kind = request.Kind switch
        {
            Proto.ExcursionKind.Temperature => Application.Inventory.ExcursionKind.Temperature,
            Proto.ExcursionKind.Damage => Application.Inventory.ExcursionKind.Damage,
            _ => null,
        };
        return new()
        {
            Lot = (await excursion.RunAsync(AccessInterceptor.CallerOf(context),
                new ReportExcursionCommand(request.UnitId, request.LotNumber, kind, request.Reason), context.CancellationToken)).ToProto(),
        };
    }

    [Runs(typeof(ReturnUnit))]
    public override async Task<ReturnUnitResponse> ReturnUnit(ReturnUnitRequest request, ServerCallContext context) => new()
    {
        Unit = (await returnUnit.RunAsync(AccessInterceptor.CallerOf(context), new UnitCommand(request.UnitId, request.Reason), context.CancellationToken)).ToProto(),
    };

    [Runs(typeof(DestroyUnit))]
    public override async Task<DestroyUnitResponse> DestroyUnit(DestroyUnitRequest request, ServerCallContext context) => new()
    {
        Unit = (await destroy.RunAsync(AccessInterceptor.CallerOf(context), new UnitCommand(request.UnitId, request.Reason), context.CancellationToken)).ToProto(),
    };

    [Runs(typeof(ListLots))]
    public override async Task<ListLotsResponse> ListLots(ListLotsRequest request, ServerCallContext context) => new()
    {
        Lots = { (await list.RunAsync(AccessInterceptor.CallerOf(context), default(Application.Unit), context.CancellationToken)).Select(l => l.ToProto()) },
    };

    [Runs(typeof(GetLot))]
    public override async Task<GetLotResponse> GetLot(GetLotRequest request, ServerCallContext context) => new()
    {
        Lot = (await get.RunAsync(AccessInterceptor.CallerOf(context), request.LotNumber, context.CancellationToken)).ToProto(),
    };
}

/// <summary>The door to the chain of custody.</summary>
public sealed class ChainOfCustodyGrpcService(GetProductHistory history) : ChainOfCustodyService.ChainOfCustodyServiceBase
{
    [Runs(typeof(GetProductHistory))]
    public override async Task<GetProductHistoryResponse> GetProductHistory(GetProductHistoryRequest request, ServerCallContext context)
    {
        var found = await history.RunAsync(AccessInterceptor.CallerOf(context),
            new ProductHistoryQuery(request.UnitId, request.ParticipantId, request.ProductId), context.CancellationToken);
        return new GetProductHistoryResponse
        {
            Blinded = found.Blinded,
            Events =
            {
                found.Events.Select(e => new ProductHistoryEvent
                {
                    Kind = e.Kind, Description = e.Description, At = e.At is { } at ? Timestamp.FromDateTimeOffset(at) : null, By = e.By, Role = e.Role,
                    Reason = e.Reason, AuditSequence = e.AuditSequence, LotNumber = e.LotNumber, UnitId = e.UnitId, ProductId = e.ProductId,
                    ParticipantId = e.ParticipantId, FromState = InventoryMapping.EventState(e.From), ToState = InventoryMapping.EventState(e.To), Detail = e.Detail,
                }),
            },
        };
    }
}

/// <summary>The inventory's messages from the use cases' views.</summary>
public static class InventoryMapping
{
    /// <summary>A percentage from the wire; a value no decimal holds (NaN, infinite, huge) becomes -1, which the rule refuses.</summary>
    public static decimal Percent(double value) => double.IsFinite(value) && Math.Abs(value) < 1_000_000 ? (decimal)value : -1m;

    /// <summary>The wire's unit state; null (a blinded caller's "issued") is ISSUED.</summary>
    public static Proto.UnitState ToProto(Domain.UnitState? state) => state is { } s ? (Proto.UnitState)(int)s : Proto.UnitState.Issued;

    /// <summary>An event's state before or after; unset for dose and lot events and in blinded views.</summary>
    public static Proto.UnitState EventState(Domain.UnitState? state) => state is { } s ? (Proto.UnitState)(int)s : Proto.UnitState.Unspecified;

    public static Proto.ProductLot ToProto(this LotView v)
    {
        var lot = v.Lot;
        return new Proto.ProductLot
        {
            LotNumber = lot.LotNumber, DonorCode = lot.DonorCode, ProductCode = lot.ProductCode, Expiry = Timestamp.FromDateTimeOffset(lot.Expiry),
            RegisteredAt = Timestamp.FromDateTimeOffset(lot.RegisteredAt), RegisteredBy = lot.RegisteredBy, Released = lot.IsReleased,
            ReleasedAt = lot.ReleasedAt.ToProto(), ReleasedBy = lot.ReleasedBy ?? "", ExceptionalRelease = lot.ExceptionalRelease,
            ReleaseJustification = lot.ReleaseJustification ?? "", ReleaseSignature = v.ReleaseSignature?.ToProto(),
            Quarantined = lot.QuarantinedAt is not null, QuarantinedAt = lot.QuarantinedAt.ToProto(), QuarantinedBy = lot.QuarantinedBy ?? "",
            QuarantineReason = lot.QuarantineReason ?? "", Units = { v.Units.Select(ToProto) }, UsableUnits = v.UsableUnits, Expired = v.Expired,
        };
    }

    public static Proto.ProductUnit ToProto(this UnitView u) => new()
    {
        UnitId = u.UnitId, LotNumber = u.LotNumber, CellsPerUnit = u.CellsPerUnit, ViabilityPercent = (double)u.ViabilityPercent,
        Expiry = Timestamp.FromDateTimeOffset(u.Expiry), StorageLocation = u.StorageLocation, State = ToProto(u.State), Usable = u.Usable,
        ExcursionReported = u.ExcursionReported, Isbt128Din = u.IsDin,
    };
}
