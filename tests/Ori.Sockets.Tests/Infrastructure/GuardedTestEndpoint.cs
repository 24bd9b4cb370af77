using Microsoft.Extensions.DependencyInjection;

namespace Ori.Sockets.Tests.Infrastructure;

/// <summary>
/// An endpoint written by hand the way the generator writes one: its connection guards, created per connection,
/// and the test dispatcher's routes behind its message guards (run with <see cref="SocketInvocation.PassesAsync"/>).
/// </summary>
public sealed class GuardedTestEndpoint(TestDispatcher dispatcher, GuardedTestEndpoint.Guards guards) : ISocketEndpoint
{
    public IConnectionGuard[] CreateConnectionGuards(IServiceProvider services) =>
        [.. guards.Connection.Select(type => (IConnectionGuard)ActivatorUtilities.CreateInstance(services, type))];

    public bool TryDispatch(ReadOnlySpan<byte> type, SocketInvocation invocation, out ValueTask completion)
    {
        if (guards.Message.Length == 0)
        {
            return dispatcher.TryDispatch(type, invocation, out completion);
        }

        completion = GuardedAsync(invocation);
        return true;
    }

    private async ValueTask GuardedAsync(SocketInvocation invocation)
    {
        for (var slot = 0; slot < guards.Message.Length; slot++)
        {
            var guardType = guards.Message[slot];
            var guard = invocation.Context.GetConnectionService(100 + slot, services => (IMessageGuard)ActivatorUtilities.CreateInstance(services, guardType));
            if (!await invocation.PassesAsync(guard))
            {
                return;
            }
        }

        if (dispatcher.TryDispatch(invocation.Type, invocation, out var completion))
        {
            await completion;
        }
        else
        {
            invocation.ReplyError(SocketErrorCodes.UnknownType, $"No route handles '{invocation.TypeName}'.");
        }
    }

    /// <summary>The guard types, in the order they run.</summary>
    public sealed record Guards(Type[] Connection, Type[] Message);
}
