using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Emitting;

/// <summary>
/// Writes the compilation's dispatch table: a switch on the route name's UTF-8 length, then a byte
/// comparison with a u8 literal, then a direct typed call. No strings, no reflection, no allocation.
/// </summary>
internal static class DispatcherEmitter
{
    private const string Invocation = "global::Ori.Sockets.SocketInvocation";
    private const string ValueTask = "global::System.Threading.Tasks.ValueTask";
    private const string Services = "global::Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions";

    public static string Emit(DispatcherModel model)
    {
        var routes = model.Routes;
        var slots = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var route in routes)
        {
            if (!route.IsStatic && !slots.ContainsKey(route.RouterFqn))
            {
                slots[route.RouterFqn] = slots.Count;
            }

            foreach (var guard in route.MessageGuards)
            {
                if (!slots.ContainsKey(guard.Fqn))
                {
                    slots[guard.Fqn] = slots.Count;
                }
            }
        }

        var creators = new Dictionary<string, EquatableArray<string>>(StringComparer.Ordinal);
        foreach (var route in routes)
        {
            if (!route.IsStatic)
            {
                creators[route.RouterFqn] = route.ConstructorArguments;
            }

            foreach (var guard in route.MessageGuards)
            {
                creators[guard.Fqn] = guard.ConstructorArguments;
            }
        }

        var w = new SourceWriter();
        Header.Write(w);
        using (w.Block("namespace Ori.Sockets.Generated"))
        {
            w.Line("/// <summary>The dispatch table of this compilation's routes.</summary>");
            w.Line(Header.GeneratedCode);
            using (w.Block("internal sealed class OriSocketsDispatcher : global::Ori.Sockets.ISocketDispatcher"))
            {
                foreach (var pair in slots.OrderBy(p => p.Value))
                {
                    w.Line($"// Lives as long as the connection: created once per connection from its services.");
                    w.Line($"private static readonly global::System.Func<global::System.IServiceProvider, {pair.Key}> s_create{pair.Value} = static services => new {pair.Key}({Arguments(creators[pair.Key])});");
                }

                for (var i = 0; i < routes.Count; i++)
                {
                    var route = routes[i];
                    if (route.Message is not null)
                    {
                        w.Line($"private static readonly global::Ori.Sockets.SocketSerializer<{route.Message.DeclaredFqn}> s_message{i} = {SerializerEmitter.Expression(route.Message)};");
                    }

                    if (route.Reply is not null)
                    {
                        w.Line($"private static readonly global::Ori.Sockets.SocketSerializer<{route.Reply.DeclaredFqn}> s_reply{i} = {SerializerEmitter.Expression(route.Reply)};");
                    }
                }

                w.Line();
                EmitTryDispatch(w, routes);
                for (var i = 0; i < routes.Count; i++)
                {
                    w.Line();
                    EmitRoute(w, routes[i], i, slots);
                }
            }

            var shapes = routes.SelectMany(r => r.Dependencies).GroupBy(s => s.Fqn, StringComparer.Ordinal).Select(g => g.First()).OrderBy(s => s.Fqn, StringComparer.Ordinal);
            foreach (var shape in shapes)
            {
                w.Line();
                SerializerEmitter.Emit(w, shape, "file");
            }
        }

        w.Line();
        EmitRegistration(w, routes);
        return w.ToString();
    }

    private static void EmitTryDispatch(SourceWriter w, EquatableArray<RouteModel> routes)
    {
        w.Line("/// <inheritdoc />");
        using (w.Block($"public bool TryDispatch(global::System.ReadOnlySpan<byte> type, {Invocation} invocation, out {ValueTask} completion)"))
        {
            using (w.Block("switch (type.Length)"))
            {
                var indexed = routes.Select((r, i) => (Route: r, Index: i));
                foreach (var group in indexed.GroupBy(p => Encoding.UTF8.GetByteCount(p.Route.RouteName)).OrderBy(g => g.Key))
                {
                    w.Line($"case {group.Key}:");
                    foreach (var (route, index) in group)
                    {
                        w.Line($"    if (global::System.MemoryExtensions.SequenceEqual(type, {route.RouteName.ToLiteral()}u8))");
                        w.Line("    {");
                        w.Line($"        completion = Route{index}(invocation);");
                        w.Line("        return true;");
                        w.Line("    }");
                        w.Line();
                    }

                    w.Line("    break;");
                }
            }

            w.Line();
            w.Line("completion = default;");
            w.Line("return false;");
        }
    }

    private static void EmitRoute(SourceWriter w, RouteModel route, int index, Dictionary<string, int> slots)
    {
        var name = $"Route{index}";
        w.Line($"// '{route.RouteName}' → {route.RouterFqn.Replace("global::", string.Empty)}.{route.MethodName}");
        if (route.MessageGuards.Count > 0)
        {
            using (w.Block($"private static async {ValueTask} {name}({Invocation} invocation)"))
            {
                foreach (var guard in route.MessageGuards)
                {
                    w.Line($"if (!await invocation.PassesAsync(invocation.Context.GetConnectionService({slots[guard.Fqn]}, s_create{slots[guard.Fqn]})).ConfigureAwait(false)) {{ return; }}");
                }

                w.Line($"await {name}Handler(invocation).ConfigureAwait(false);");
            }

            w.Line();
            name += "Handler";
        }

        using (w.Block($"private static {ValueTask} {name}({Invocation} invocation)"))
        {
            if (route.Message is not null)
            {
                w.Line("// Reads and validates the data; on failure it has replied validation_failed with the paths.");
                w.Line($"if (!invocation.TryReadData(s_message{index}, out var message)) {{ return default; }}");
            }

            var target = route.IsStatic ? route.RouterFqn : "router";
            if (!route.IsStatic)
            {
                w.Line($"var router = invocation.Context.GetConnectionService({slots[route.RouterFqn]}, s_create{slots[route.RouterFqn]});");
            }

            var arguments = string.Join(", ", route.Parameters.Select(p => p switch
            {
                ParameterKind.Message => "message",
                ParameterKind.CancellationToken => "invocation.Aborted",
                _ => route.Context == ContextKind.Typed ? $"new global::Ori.Sockets.SocketContext<{route.StateFqn}>(invocation.Context)" : "invocation.Context",
            }));
            var call = $"{target}.{route.MethodName}({arguments})";
            switch (route.Return)
            {
                case ReturnKind.Void:
                    w.Line($"{call};");
                    w.Line("invocation.Complete();");
                    w.Line("return default;");
                    break;
                case ReturnKind.Task:
                case ReturnKind.ValueTask:
                    w.Line($"return invocation.CompleteWhenDone({call});");
                    break;
                case ReturnKind.Value:
                    w.Line($"invocation.Reply({call}, s_reply{index});");
                    w.Line("return default;");
                    break;
                default:
                    w.Line($"return invocation.ReplyWhenDone({call}, s_reply{index});");
                    break;
            }
        }
    }

    private static void EmitRegistration(SourceWriter w, EquatableArray<RouteModel> routes)
    {
        var guards = routes.OrderBy(r => r.RouterFqn, StringComparer.Ordinal)
            .SelectMany(r => r.ConnectionGuards)
            .GroupBy(g => g.Fqn, StringComparer.Ordinal)
            .Select(g => g.First())
            .ToList();
        using (w.Block("namespace Ori.Sockets"))
        {
            w.Line("/// <summary>Registers this compilation's generated routes.</summary>");
            w.Line(Header.GeneratedCode);
            using (w.Block("internal static class OriSocketsGeneratedRegistration"))
            {
                w.Line("/// <summary>Adds the generated dispatch table and the connection guards the routers declare.</summary>");
                w.Line("/// <param name=\"builder\">The Ori.Sockets builder.</param>");
                w.Line("/// <returns>The builder.</returns>");
                using (w.Block("public static global::Ori.Sockets.OriSocketsBuilder AddSocketRouters(this global::Ori.Sockets.OriSocketsBuilder builder)"))
                {
                    w.Line("builder.AddDispatcher<global::Ori.Sockets.Generated.OriSocketsDispatcher>();");
                    foreach (var guard in guards)
                    {
                        w.Line("global::Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions.TryAddEnumerable(builder.Services,");
                        w.Line($"    global::Microsoft.Extensions.DependencyInjection.ServiceDescriptor.Scoped<global::Ori.Sockets.IConnectionGuard, {guard.Fqn}>(static services => new {guard.Fqn}({Arguments(guard.ConstructorArguments)})));");
                    }

                    w.Line("return builder;");
                }
            }
        }
    }

    private static string Arguments(EquatableArray<string> services) =>
        string.Join(", ", services.Select(s => s == "global::System.IServiceProvider" ? "services" : $"{Services}.GetRequiredService<{s}>(services)"));
}
