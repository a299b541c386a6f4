namespace Cratus.Randomization.Server.Grpc;

/// <summary>
/// Names the use case an RPC runs. The caller's permission for it (the use case's own declaration) is then checked as
/// soon as the caller is known, before anything reads the request: a caller without the permission hears
/// PERMISSION_DENIED, never a complaint about a field or a stored answer to a retry.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class RunsAttribute(Type useCase) : Attribute
{
    public Type UseCase { get; } = useCase;
}
