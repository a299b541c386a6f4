using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Grpc.Net.Client;

namespace Cratus.Testing;

/// <summary>Ports and gRPC channels on 127.0.0.1, for servers the tests start there.</summary>
public static class Loopback
{
    /// <summary>A port free now (the system's choice); whoever binds it next gets it.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A channel to <paramref name="address"/> over real HTTP/2, sending <paramref name="token"/> (if any) as bearer.</summary>
    public static GrpcChannel Channel(string address, string? token) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = WithBearer(token, new SocketsHttpHandler { EnableMultipleHttp2Connections = true }) });

    /// <summary><paramref name="inner"/>, with every request carrying <paramref name="token"/> as bearer (none if null).</summary>
    public static HttpMessageHandler WithBearer(string? token, HttpMessageHandler inner) => token is null ? inner : new BearerHandler(token, inner);

    private sealed class BearerHandler(string token, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
