using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Grpc.Core.Interceptors;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>
/// Turns every failure into a clear gRPC status: the trial's refusals keep their message; a database that is busy or
/// unreachable is UNAVAILABLE (the transaction rolled back, so nothing was half-written and a retry with the same
/// request_id is safe); anything else is logged in full on the server and answered without internals.
/// </summary>
public sealed partial class ErrorInterceptor(ILogger<ErrorInterceptor> logger, CallerResolver callers) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Translate(ex, context);
        }
    }

    private RpcException Translate(Exception ex, ServerCallContext context)
    {
        switch (ex)
        {
            case TrialRuleException { Fault: TrialFault.PermissionDenied } denied:
                // A caller reaching for what their role or sites do not allow: a security event, with who it was.
                LogDenied(logger, callers.Resolve(context.GetHttpContext().User)?.Subject ?? "(no token)", context.Method, denied.Reason);
                return RichStatus.From(denied);
            case TrialRuleException rule:
                // An expected outcome (a refusal under the trial's rules), not a fault: no stack trace, no Error entry.
                LogRefused(logger, context.Method, rule.Reason);
                return RichStatus.From(rule);
            case WriteAnswerExpiredException expired:
                return RichStatus.Exception(StatusCode.FailedPrecondition, ErrorReason.RequestAnswerExpired, expired.Message);
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                return RichStatus.Exception(StatusCode.DeadlineExceeded, ErrorReason.DeadlineExceeded,
                    "The call was cancelled or ran out of time before it completed. Retry with the same request_id: you get its answer if it was carried out, and it is carried out once if it was not.");
            case System.Security.Cryptography.CryptographicException:
                LogIntegrityFailure(logger, context.Method, ex);
                return RichStatus.Exception(StatusCode.DataLoss, ErrorReason.AllocationIntegrityFailed,
                    "A stored allocation failed its integrity check (it was altered, or its encryption key is missing). Nothing was changed; tell the trial's data manager.");
            case DbException { SqlState: "22021" or "22P05" or "22001" } or DbUpdateException { InnerException: DbException { SqlState: "22021" or "22P05" or "22001" } }
                // SQL Server: "string or binary data would be truncated" (2628 names the value, so it is never logged).
                or Microsoft.Data.SqlClient.SqlException { Number: 2628 or 8152 } or DbUpdateException { InnerException: Microsoft.Data.SqlClient.SqlException { Number: 2628 or 8152 } }:
                // A text the database cannot store (PostgreSQL refuses a NUL, or a value too long): the caller's input, not an outage.
                return RichStatus.Exception(StatusCode.InvalidArgument, ErrorReason.RequestInvalid,
                    "A text field is too long or holds a character that cannot be stored (such as a NUL). Shorten it or remove control characters and send it again; nothing was stored.");
            case DbException or DbUpdateException or TimeoutException or InvalidOperationException { InnerException: DbException or TimeoutException }:
                LogDatabaseFailure(logger, context.Method, ex);
                return RichStatus.Exception(StatusCode.Unavailable, ErrorReason.DatabaseUnavailable,
                    "The trial database is busy or unavailable; nothing was stored. Retry in a moment with the same request_id.");
            case IOException:
                LogDatabaseFailure(logger, context.Method, ex);
                return RichStatus.Exception(StatusCode.Unavailable, ErrorReason.DatabaseUnavailable,
                    "The trial database could not confirm the write on disk. Retry in a moment with the same request_id: you get the stored answer if the write was kept.");
            default:
                var reference = context.GetHttpContext().TraceIdentifier;
                LogUnexpected(logger, context.Method, reference, ex);
                return RichStatus.Exception(StatusCode.Internal, ErrorReason.InternalFailure,
                    $"The service failed unexpectedly; nothing was stored. Retry with the same request_id, and quote reference {reference} to support if it persists.");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Denied {Subject} the call {Method}: {Reason}")]
    private static partial void LogDenied(ILogger logger, string subject, string method, RefusalReason reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused {Method}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string method, RefusalReason reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Integrity check of sealed data failed in {Method}")]
    private static partial void LogIntegrityFailure(ILogger logger, string method, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database failure in {Method}")]
    private static partial void LogDatabaseFailure(ILogger logger, string method, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected failure in {Method}, reference {Reference}")]
    private static partial void LogUnexpected(ILogger logger, string method, string reference, Exception exception);
}
