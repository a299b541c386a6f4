using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Grpc;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Cratus.Randomization.Server.Security;

/// <summary>
/// Establishes who is calling: the caller from a validated access token, or none (only the sign-in calls take none).
/// A token that does not name exactly one known role and a subject is UNAUTHENTICATED. Then, before anything reads the
/// request, it has the application check the caller against the permission of the use case the RPC runs
/// (<see cref="RunsAttribute"/>, <see cref="Permissions.Demand"/>): no role is judged here, and the use case checks
/// again whichever door calls it.
/// </summary>
public sealed class AccessInterceptor(CallerResolver resolver) : Interceptor
{
    private const string CallerKey = "cratus.caller";

    /// <summary>The caller of this call, or null when it carried no token.</summary>
    public static Caller? CallerOf(ServerCallContext context) => context.GetHttpContext().Items[CallerKey] as Caller;

    private void Identify(ServerCallContext context)
    {
        var http = context.GetHttpContext();
        Caller? caller = null;
        if (http.User.Identity?.IsAuthenticated == true)
        {
            http.Items[CallerKey] = caller = resolver.Resolve(http.User)
                ?? throw RichStatus.Exception(StatusCode.Unauthenticated, ErrorReason.TokenClaimsInvalid,
                    "The access token does not name exactly one known role and a subject. Sign in again.");
        }
        if (http.GetEndpoint()?.Metadata.GetMetadata<RunsAttribute>() is { } runs && !ApplicationExtensions.IsPublic(runs.UseCase))
            Permissions.Demand(runs.UseCase, caller);
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Identify(context);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Identify(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Identify(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Identify(context);
        return continuation(requestStream, responseStream, context);
    }
}
