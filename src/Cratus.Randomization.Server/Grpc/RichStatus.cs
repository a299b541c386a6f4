using Cratus.Randomization.Domain;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Proto = Cratus.Randomization.Protos.V1;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>
/// Builds the statuses this service answers with: a code, a message a site coordinator can act on, and google.rpc
/// details a program can act on (an ErrorInfo whose reason is an <see cref="Proto.ErrorReason"/> name, a BadRequest
/// for INVALID_ARGUMENT and wherever fields were judged, a PreconditionFailure for FAILED_PRECONDITION). Details never carry an arm, a dose or a cell
/// count: they are built only from what the message already says.
/// </summary>
public static class RichStatus
{
    public const string Domain = "cratus.randomization.v1";
    private const string Prefix = "ERROR_REASON_";

    /// <summary>The ErrorInfo reason string of an enum value: its proto name without the ERROR_REASON_ prefix.</summary>
    public static string ReasonName(Proto.ErrorReason reason) =>
        Proto.ErrorsReflection.Descriptor.EnumTypes[0].FindValueByNumber((int)reason).Name[Prefix.Length..];

    public static Proto.ErrorReason ToProto(RefusalReason reason) =>
        System.Enum.Parse<Proto.ErrorReason>(reason.ToString());

    public static Google.Rpc.Status Build(StatusCode code, Proto.ErrorReason reason, string message,
        IReadOnlyList<FieldViolation>? fields = null, IReadOnlyList<PreconditionViolation>? preconditions = null)
    {
        var status = new Google.Rpc.Status { Code = (int)code, Message = message };
        status.Details.Add(Any.Pack(new ErrorInfo { Reason = ReasonName(reason), Domain = Domain }));
        // Every bad field is named: always for INVALID_ARGUMENT, and for a refusal judged on fields (each failed
        // eligibility criterion names the field it was judged on).
        if (code == StatusCode.InvalidArgument || fields is { Count: > 0 })
        {
            var bad = new BadRequest();
            bad.FieldViolations.AddRange((fields is { Count: > 0 } ? fields : [new FieldViolation("", message)])
                .Select(f => new BadRequest.Types.FieldViolation { Field = f.Field, Description = f.Description }));
            status.Details.Add(Any.Pack(bad));
        }
        if (code == StatusCode.FailedPrecondition)
        {
            var failure = new PreconditionFailure();
            failure.Violations.AddRange((preconditions is { Count: > 0 } ? preconditions : [new PreconditionViolation(ReasonName(reason), "", message)])
                .Select(v => new PreconditionFailure.Types.Violation { Type = v.Type, Subject = v.Subject, Description = v.Description }));
            status.Details.Add(Any.Pack(failure));
        }
        return status;
    }

    public static RpcException Exception(StatusCode code, Proto.ErrorReason reason, string message,
        IReadOnlyList<FieldViolation>? fields = null, IReadOnlyList<PreconditionViolation>? preconditions = null) =>
        Build(code, reason, message, fields, preconditions).ToRpcException();

    public static RpcException From(TrialRuleException rule) =>
        Exception(ToStatusCode(rule.Fault), ToProto(rule.Reason), rule.Message, rule.Fields, rule.Preconditions);

    /// <summary>
    /// A trailers-only gRPC reply written straight to the HTTP response, for refusals made before the gRPC library
    /// runs (rate limit, malformed frames, missing or bad tokens): what a gRPC client reads as that status, with its
    /// details in grpc-status-details-bin.
    /// </summary>
    public static void Write(Microsoft.AspNetCore.Http.HttpResponse response, StatusCode code, Proto.ErrorReason reason, string message)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = Uri.EscapeDataString(message);
        response.Headers["grpc-status-details-bin"] = Convert.ToBase64String(Build(code, reason, message).ToByteArray());
    }

    public static StatusCode ToStatusCode(TrialFault fault) => fault switch
    {
        TrialFault.InvalidArgument => StatusCode.InvalidArgument,
        TrialFault.FailedPrecondition => StatusCode.FailedPrecondition,
        TrialFault.NotFound => StatusCode.NotFound,
        TrialFault.AlreadyExists => StatusCode.AlreadyExists,
        TrialFault.PermissionDenied => StatusCode.PermissionDenied,
        TrialFault.Unauthenticated => StatusCode.Unauthenticated,
        _ => StatusCode.FailedPrecondition,
    };
}
