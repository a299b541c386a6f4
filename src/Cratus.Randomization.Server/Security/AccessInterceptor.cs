using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Grpc;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Cratus.Randomization.Server.Security;

/// <summary>
/// Applies <see cref="RpcPermissions"/> to every call: a call without a valid caller is UNAUTHENTICATED, a role
/// the table does not list for the method is PERMISSION_DENIED. The resolved caller is handed to the services.
/// </summary>
public sealed partial class AccessInterceptor(CallerResolver resolver, ILogger<AccessInterceptor> logger) : Interceptor
{
    private const string CallerKey = "cratus.caller";

    public static Caller CallerOf(ServerCallContext context) =>
        context.GetHttpContext().Items[CallerKey] as Caller
        ?? throw new InvalidOperationException("the access interceptor did not run for this call");

    private void Check(ServerCallContext context)
    {
        if (RpcPermissions.Anonymous.Contains(context.Method)) return;
        var http = context.GetHttpContext();
        var caller = resolver.Resolve(http.User)
            ?? throw RichStatus.Exception(StatusCode.Unauthenticated, ErrorReason.TokenClaimsInvalid,
                "The access token does not name exactly one known role and a subject. Sign in again.");
        if (!RpcPermissions.Allows(context.Method, caller.Role))
        {
            LogDenied(logger, caller.Subject, caller.Role, context.Method);
            throw RichStatus.Exception(StatusCode.PermissionDenied, ErrorReason.RoleNotPermitted,
                $"Your role ({TrialRoles.ClaimValue(caller.Role)}) may not call {context.Method}.");
        }
        http.Items[CallerKey] = caller;
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Denied {Subject} in role {Role} the call {Method}")]
    private static partial void LogDenied(ILogger logger, string subject, TrialRole role, string method);
}
